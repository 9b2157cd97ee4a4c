import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

export type { Logger };

export interface LoggerSettings {
  /** Program name, logged on every line as `name`. */
  name: string;
  level?: string;
  /** Where lines go; stderr by default so stdout stays free for command output. */
  destination?: DestinationStream;
}

/**
 * Paths pino blanks on every line: credentials must never reach a log, whoever logs a request or
 * a config object.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'token',
  'bootstrapToken',
  'password',
  'key',
  'keyPem',
  '*.token',
  '*.bootstrapToken',
  '*.password',
  '*.keyPem',
];

/** pino's number for `error`: below it, a failure is routine (a retry, a fallback) and needs no stack. */
const ERROR_LEVEL = 50;

/** An error as a routine line shows it: what and why, without the stack (and its cause, likewise). */
export function briefError(err: Error): Record<string, unknown> {
  const e = err as Error & { code?: unknown; cause?: unknown };
  return {
    type: e.name,
    message: e.message,
    ...(e.code !== undefined ? { code: e.code } : {}),
    ...(e.cause instanceof Error ? { cause: briefError(e.cause) } : {}),
  };
}

/**
 * Every line goes through here before pino writes it:
 *  - a field the logger is already bound to (`component` of a child, `name`, `pid`) is not written a
 *    second time: dropped when it says the same, renamed `<field>_2` when it differs, since JSON with
 *    a key twice is read differently by every tool;
 *  - below error level an `err` loses its stack: a retry that logs every few seconds would otherwise
 *    bury the log in identical stack traces. Errors and fatals keep it.
 */
function tidy(args: unknown[], bindings: Record<string, unknown>, level: number): unknown[] {
  const [first, ...rest] = args;
  if (first instanceof Error) return level < ERROR_LEVEL ? [{ err: briefError(first) }, ...rest] : args;
  if (!first || typeof first !== 'object') return args;
  const fields = first as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(fields)) {
    if (!(key in bindings)) continue;
    copy ??= { ...fields };
    const value = copy[key];
    delete copy[key];
    if (value !== bindings[key]) copy[`${key}_2`] = value;
  }
  if (level < ERROR_LEVEL && fields.err instanceof Error) {
    copy ??= { ...fields };
    copy.err = briefError(fields.err);
  }
  return copy ? [copy, ...rest] : args;
}

/**
 * The one logger of a process. Components receive it and call `logger.child({ component })`. Lines
 * are JSON with the level as a word (`"level":"warn"`) and an ISO 8601 time, as log pipelines and
 * people read them without a lookup table.
 */
export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    name: settings.name,
    level: settings.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // tidy() has already made a routine error brief; only a real Error goes through pino's serializer.
    serializers: { err: (e: unknown) => (e instanceof Error ? pino.stdSerializers.err(e) : e) },
    formatters: { level: (label) => ({ level: label }) },
  };
  const base = { name: settings.name, pid: process.pid };
  options.hooks = {
    logMethod(args, method, level) {
      return method.apply(this, tidy(args, { ...base, ...this.bindings() }, level) as Parameters<typeof method>);
    },
  };
  return pino(options, settings.destination ?? pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything, for unit tests of components that require one. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
