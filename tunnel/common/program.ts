import type { Logger } from '../../lib/logger.js';

/** What tunnel/main.ts needs of a program: options.ts → config.ts → start.ts. */
export interface Program<O extends { logLevel: string }, C> {
  parseOptions(argv: string[]): Readonly<O> & { help?: boolean };
  usage(): string;
  resolveConfig(options: Readonly<O>, logger: Logger): Promise<C>;
  start(config: C, deps: { logger: Logger }): Promise<{ close(): Promise<void> }>;
}
