/**
 * What a suite has to undo (processes, the control plane, temporary folders, git worktrees), undone
 * once, in reverse order: when the suite ends, failed or not, or on Ctrl-C or SIGTERM, when its
 * `finally` would never run and /tmp would keep a control plane's state and a checkout per run.
 */
import { constants } from 'node:os';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export class Cleanups {
  private readonly steps: Array<[string, () => unknown]> = [];
  private done: Promise<void> | undefined;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    console.error(`[bench:${this.suite}] ${signal}: cleaning up`);
    void this.run().then(() => process.exit(128 + constants.signals[signal]));
  };

  constructor(private readonly suite: string) {
    // A listener of our own also tells test/cluster/process.ts to leave the signal to us rather than
    // exit at once with the control plane's folder still on disk.
    for (const signal of SIGNALS) process.once(signal, this.onSignal);
  }

  push(name: string, fn: () => unknown): void {
    this.steps.push([name, fn]);
  }

  /** Runs every step, last pushed first; a step that fails is reported and the others still run. */
  run(): Promise<void> {
    this.done ??= (async () => {
      for (const signal of SIGNALS) process.off(signal, this.onSignal);
      for (const [name, fn] of this.steps.reverse()) {
        try {
          await fn();
        } catch (err) {
          console.error(`[bench:${this.suite}] cleanup of ${name} failed: ${String(err)}`);
        }
      }
    })();
    return this.done;
  }
}
