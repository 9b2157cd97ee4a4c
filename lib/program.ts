/**
 * The one startup pipeline every binary follows (options.ts → config.ts → start.ts), run from main.ts:
 * argv parsed and validated, --help, one logger, the components started, SIGTERM/SIGINT closing them.
 * `-h`/`--help` and `--version` are answered first, whatever else argv holds. A failure before the
 * program runs is one line on stderr, `<name>: <message> (<code>)`, and exit 2 for a usage error (a
 * wrong command, flag or flag value: an error with statusCode 400, as yurtctl maps it) or 1 for any
 * other failure (docs/errors.md, "Exit codes").
 *
 * A one-shot CLI (yurtctl) runs through `runCommand`: the same error line and signal handling, but its
 * start returns the exit code, and it may map failures onto exit codes of its own.
 */
import { isYurtError } from './errors.js';
import { createLogger, type Logger } from './logger.js';
import { earlyFlag } from './options.js';
import { packageVersion } from './version.js';

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

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The one line a failed program leaves on stderr; `unexpected` tells an error that carries no code. */
function errorLine(name: string, err: unknown, unexpected: (err: unknown) => string = messageOf): string {
  return `${name}: ${isYurtError(err) ? `${err.message} (${err.code})` : unexpected(err)}\n`;
}

/** 2 for a usage error (usageError, or a coded error with statusCode 400 such as OptionError), else 1. */
export const usageExitCode = (err: unknown): number => ((err as { usage?: boolean } | undefined)?.usage || (isYurtError(err) && err.statusCode === 400) ? 2 : 1);

/** Calls `stop` on the first SIGTERM or SIGINT; the returned function stops listening. */
function onStopSignal(stop: (signal: NodeJS.Signals) => void): () => void {
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return () => {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  };
}

export async function runProgram<O extends { logLevel: string }, C>(name: string, load: () => Promise<Program<O, C>> | Program<O, C>, argv: string[]): Promise<void> {
  try {
    const early = earlyFlag(argv);
    if (early === 'version') {
      process.stdout.write(`${name} ${packageVersion()}\n`);
      process.exit(0);
    }
    const program = await load();
    if (early === 'help') {
      process.stdout.write(`${program.usage()}\n`);
      process.exit(0);
    }
    const options = program.parseOptions(argv);
    if (options.help) {
      process.stdout.write(`${program.usage()}\n`);
      process.exit(0);
    }
    const logger = createLogger({ name: name.replace(/ /g, '-'), level: options.logLevel });
    const running = await program.start(await program.resolveConfig(options, logger), { logger });
    onStopSignal((signal) => {
      logger.info({ signal }, 'shutting down');
      void running.close().then(() => process.exit(0));
    });
  } catch (err) {
    process.stderr.write(errorLine(name, err));
    process.exit(usageExitCode(err));
  }
}

/** Where a one-shot command reads and writes: the process's streams, or a test's. */
export interface CommandIo {
  stdout: { write(chunk: string): boolean; isTTY?: boolean };
  stderr: { write(chunk: string): boolean; isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export interface CommandDeps extends CommandIo {
  /**
   * While registered, SIGTERM/SIGINT run `stop` (e.g. give a lock back) and then exit 130; the
   * returned function unregisters it. Unregistered, a signal ends the process as it would anyway.
   */
  onStop(stop: (signal: NodeJS.Signals) => Promise<void> | void): () => void;
}

/**
 * A CLI that does one thing and exits. A CLI with subcommands parses its argv per subcommand, so
 * start takes the argv itself; every failure is thrown and becomes the error line.
 */
export interface Command {
  /** The subcommand argv names, for the error line (`convert`, `node revert`); '' for none. */
  commandName?(argv: string[]): string;
  start(argv: string[], deps: CommandDeps): Promise<number>;
  /** The exit code of a failure; default 2 for a usage error, else 1. */
  exitCode?(err: unknown): number;
  /** How a failure that carries no code is told; default: its message. */
  unexpected?(err: unknown): string;
}

const stopThenExit: CommandDeps['onStop'] = (stop) =>
  onStopSignal((signal) => void Promise.resolve().then(() => stop(signal)).finally(() => process.exit(130)));

/** Runs a one-shot command on `io`: its exit code, after the one error line on io.stderr if it failed. */
export async function commandExitCode(name: string, load: () => Promise<Command> | Command, argv: string[], io: CommandIo): Promise<number> {
  let command: Command | undefined;
  try {
    command = await load();
    return await command.start(argv, { ...io, onStop: stopThenExit });
  } catch (err) {
    const sub = command?.commandName?.(argv) ?? '';
    io.stderr.write(errorLine(sub ? `${name} ${sub}` : name, err, command?.unexpected));
    return command?.exitCode ? command.exitCode(err) : usageExitCode(err);
  }
}

export async function runCommand(name: string, load: () => Promise<Command> | Command, argv: string[]): Promise<void> {
  const code = await commandExitCode(name, load, argv, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });
  // Leave once stdout and stderr are flushed (pipes are asynchronous); nothing else may keep the process alive.
  process.exitCode = code;
  setImmediate(() => process.exit(code));
}
