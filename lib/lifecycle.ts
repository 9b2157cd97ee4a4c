/**
 * Long-lived components expose start() and an idempotent close(). Programs build them in order and
 * close them in reverse (see each program's start.ts).
 */
import type { Logger } from './logger.js';

export interface Component {
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Wraps a close function so that concurrent and repeated calls share one run. */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}

export interface Step {
  name: string;
  close: () => Promise<void>;
}

/**
 * Keeps started components in order so that shutdown closes them in reverse, and so a failure
 * halfway through startup tears down exactly what was started.
 */
export class Stack {
  private readonly steps: Step[] = [];
  private closing: Promise<Error[]> | undefined;

  push(name: string, close: () => Promise<void>): void {
    this.steps.push({ name, close });
  }

  get names(): string[] {
    return this.steps.map((s) => s.name);
  }

  /** Closes everything in reverse order; errors are collected, never thrown, so every step runs. */
  close(onError?: (name: string, err: unknown) => void): Promise<Error[]> {
    this.closing ??= (async () => {
      const errors: Error[] = [];
      for (const step of [...this.steps].reverse()) {
        try {
          await step.close();
        } catch (err) {
          onError?.(step.name, err);
          errors.push(err instanceof Error ? err : new Error(String(err)));
        }
      }
      return errors;
    })();
    return this.closing;
  }
}

/** A program's shutdown: says what it closes, in the order it closes them, and logs what fails. */
export async function shutdown(stack: Stack, log: Logger, program: string): Promise<void> {
  log.info({ steps: stack.names.reverse() }, `${program} stopping`);
  await stack.close((name, err) => log.error({ err, step: name }, 'close failed'));
}

/** Tears down what a start that failed halfway had built; the start's own error is what propagates. */
export async function abandon(stack: Stack, log: Logger): Promise<void> {
  await stack.close((name, err) => log.error({ err, step: name }, 'close after a failed start failed'));
}

/** What a program's start function builds with: numbered steps and the components to close. */
export interface Startup {
  /** Logs the next numbered step, so a start that hangs or fails names where. */
  begin(what: string): void;
  /** Registers something started; everything registered closes in reverse order. */
  push(name: string, close: () => Promise<void>): void;
  /** Starts a component and registers its close. */
  start<T extends Component>(name: string, component: T): Promise<T>;
  /** Runs at close before anything registered is closed (e.g. stop accepting, drain). */
  beforeClose(fn: () => Promise<void> | void): void;
}

/**
 * The start every program shares: `build` starts components in order through a `Startup`; when it
 * throws, exactly what it had started is torn down and its error propagates; when it returns, the
 * result gets an idempotent close() that runs the beforeClose hooks and then closes in reverse.
 */
export async function startInSteps<R extends object>(program: string, log: Logger, build: (startup: Startup) => Promise<R>): Promise<R & { close(): Promise<void> }> {
  const stack = new Stack();
  const hooks: Array<() => Promise<void> | void> = [];
  let step = 0;
  const startup: Startup = {
    begin: (what) => log.info({ step: ++step }, what),
    push: (name, close) => stack.push(name, close),
    start: async (name, component) => {
      await component.start();
      stack.push(name, () => component.close());
      return component;
    },
    beforeClose: (fn) => void hooks.push(fn),
  };
  let running: R;
  try {
    running = await build(startup);
  } catch (err) {
    await abandon(stack, log);
    throw err;
  }
  const close = once(async () => {
    for (const hook of hooks) {
      try {
        await hook();
      } catch (err) {
        log.error({ err }, 'before-close step failed');
      }
    }
    await shutdown(stack, log, program);
  });
  return Object.assign(running, { close });
}

/** Injectable clock for retry, GC and heartbeat loops, so tests control time without fake timers. */
export interface Clock {
  now(): number;
  delay(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Milliseconds from an arbitrary origin, with sub-millisecond resolution and never stepped, for
   * short intervals (a round trip, a rate over a few milliseconds) where now()'s whole milliseconds
   * would round a burst's span to 0 or 1. Optional: code reads now() on a clock without it.
   */
  monotonic?(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  delay: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};
