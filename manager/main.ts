#!/usr/bin/env node
// yurt-manager: the cloud-side autonomy controller. argv and signals only; see options.ts → config.ts → start.ts.
import { createLogger } from '../lib/logger.js';
import { isYurtError } from '../lib/errors.js';
import { parseOptions, usage } from './options.js';
import { resolveConfig } from './config.js';
import { startManager } from './start.js';

try {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(`${usage()}\n`);
    process.exit(0);
  }
  const logger = createLogger({ name: 'yurt-manager', level: options.logLevel });
  const manager = await startManager(resolveConfig(options, logger), { logger });
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    void manager.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (err) {
  process.stderr.write(`yurt-manager: ${isYurtError(err) ? `${err.message} (${err.code})` : String(err)}\n`);
  process.exit(1);
}
