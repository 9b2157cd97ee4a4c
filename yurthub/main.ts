#!/usr/bin/env node
// yurthub: the edge node proxy. argv and signals only; see options.ts → config.ts → start.ts.
import { createLogger } from '../lib/logger.js';
import { isYurtError } from '../lib/errors.js';
import { parseOptions, usage } from './options.js';
import { resolveConfig } from './config.js';
import { startHub } from './start.js';

try {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(`${usage()}\n`);
    process.exit(0);
  }
  const logger = createLogger({ name: 'yurthub', level: options.logLevel });
  const hub = await startHub(await resolveConfig(options, logger), { logger });
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    void hub.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (err) {
  process.stderr.write(`yurthub: ${isYurtError(err) ? `${err.message} (${err.code})` : String(err)}\n`);
  process.exit(1);
}
