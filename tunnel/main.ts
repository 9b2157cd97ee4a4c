#!/usr/bin/env node
// yurt-tunnel server|agent: argv and signals only; see <program>/options.ts → config.ts → start.ts.
import { createLogger } from '../lib/logger.js';
import { isYurtError } from '../lib/errors.js';
import type { Program } from './common/program.js';

type AnyProgram = Program<{ logLevel: string }, unknown>;
const programs: Record<string, () => Promise<AnyProgram>> = {
  server: async () => (await import('./server/program.js')).program as AnyProgram,
  agent: async () => (await import('./agent/program.js')).program as AnyProgram,
};
const [command = '', ...argv] = process.argv.slice(2);
try {
  const load = programs[command];
  if (!load) throw Object.assign(new Error('usage: yurt-tunnel server|agent [flags]   (yurt-tunnel <command> --help lists the flags)'), { usage: true });
  const program = await load();
  const options = program.parseOptions(argv);
  if (options.help) {
    process.stdout.write(`${program.usage()}\n`);
    process.exit(0);
  }
  const logger = createLogger({ name: `yurt-tunnel-${command}`, level: options.logLevel });
  const running = await program.start(await program.resolveConfig(options, logger), { logger });
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    void running.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (err) {
  process.stderr.write(`yurt-tunnel${command ? ` ${command}` : ""}: ${isYurtError(err) ? `${err.message} (${err.code})` : (err as Error).message}\n`);
  process.exit((err as { usage?: boolean }).usage ? 2 : 1);
}
