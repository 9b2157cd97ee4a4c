/**
 * The one startup pipeline every binary follows (options.ts → config.ts → start.ts), run from main.ts:
 * argv parsed and validated, --help, one logger, the components started, SIGTERM/SIGINT closing them.
 * A failure before the program runs is one line on stderr, `<name>: <message> (<code>)`, and exit 1
 * (2 for a usage error).
 */
import { isYurtError } from './errors.js';
import { createLogger, type Logger } from './logger.js';

export interface Program<O extends { logLevel: string }, C> {
  parseOptions(argv: string[]): Readonly<O> & { help?: boolean };
  usage(): string;
  resolveConfig(options: Readonly<O>, logger: Logger): C | Promise<C>;
  start(config: C, deps: { logger: Logger }): Promise<{ close(): Promise<void> }>;
}

/** An error whose message is the usage line: exit 2, as with a wrong command. */
export function usageError(message: string): Error {
  return Object.assign(new Error(message), { usage: true });
}

export async function runProgram<O extends { logLevel: string }, C>(name: string, load: () => Promise<Program<O, C>> | Program<O, C>, argv: string[]): Promise<void> {
  try {
    const program = await load();
    const options = program.parseOptions(argv);
    if (options.help) {
      process.stdout.write(`${program.usage()}\n`);
      process.exit(0);
    }
    const logger = createLogger({ name: name.replace(/ /g, '-'), level: options.logLevel });
    const running = await program.start(await program.resolveConfig(options, logger), { logger });
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      void running.close().then(() => process.exit(0));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  } catch (err) {
    process.stderr.write(`${name}: ${isYurtError(err) ? `${err.message} (${err.code})` : err instanceof Error ? err.message : String(err)}\n`);
    process.exit((err as { usage?: boolean }).usage ? 2 : 1);
  }
}
