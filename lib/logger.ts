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

/** The one logger of a process. Components receive it and call `logger.child({ component })`. */
export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    name: settings.name,
    level: settings.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  return pino(options, settings.destination ?? pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything, for unit tests of components that require one. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
