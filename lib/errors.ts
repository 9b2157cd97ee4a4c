/**
 * One error base class for every program, in the manner of fastify's FST_ERR_* and undici's
 * UND_ERR_*: a stable string `code` that operators can search docs/errors.md for, the HTTP status a
 * server should answer with, and the underlying `cause`.
 */
export interface ErrorDefinition {
  readonly code: string;
  readonly statusCode: number;
  /** Message template; `%s` placeholders are filled from the arguments in order. */
  readonly message: string;
}

export class YurtError extends Error {
  readonly code: string;
  readonly statusCode: number;

  constructor(code: string, message: string, statusCode = 500, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'YurtError';
    this.code = code;
    this.statusCode = statusCode;
  }
}

export type ErrorFactory = ((...args: Array<string | number>) => YurtError) & ErrorDefinition;

function format(template: string, args: Array<string | number>): string {
  let i = 0;
  return template.replace(/%s/g, () => (i < args.length ? String(args[i++]) : '%s'));
}

/**
 * Builds a program's error catalogue. Each entry becomes a factory with the definition attached,
 * so the catalogue doubles as the list the docs test checks against docs/errors.md.
 */
export function defineErrors<K extends string>(
  defs: Record<K, { statusCode: number; message: string }>,
): Record<K, ErrorFactory> {
  const out = {} as Record<K, ErrorFactory>;
  for (const code of Object.keys(defs) as K[]) {
    const def = defs[code];
    const factory = ((...args: Array<string | number>) =>
      new YurtError(code, format(def.message, args), def.statusCode)) as ErrorFactory;
    Object.assign(factory, { code, statusCode: def.statusCode, message: def.message });
    out[code] = factory;
  }
  return out;
}

/** Attaches a cause to an error made by a catalogue factory, keeping call sites one line long. */
export function withCause<E extends YurtError>(err: E, cause: unknown): E {
  Object.defineProperty(err, 'cause', { value: cause, enumerable: false, writable: true, configurable: true });
  return err;
}

export function isYurtError(err: unknown): err is YurtError {
  return err instanceof YurtError;
}
