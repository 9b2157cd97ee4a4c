/**
 * What the demo started, stopped in reverse on completion, on failure and on Ctrl-C, and the one line
 * that says nothing is left: the demo's e2e test reads that line and checks it.
 */
import { existsSync, rmSync } from 'node:fs';

export class Teardown {
  private readonly closers: Array<() => Promise<unknown>> = [];
  private readonly folders: string[] = [];
  private readonly checks: Array<() => Promise<string | undefined>> = [];
  private stopping: Promise<void> | undefined;

  constructor() {
    process.on('SIGINT', () => void this.stop(130));
    process.on('SIGTERM', () => void this.stop(143));
    process.on('unhandledRejection', (err) => {
      console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
      void this.stop(1);
    });
  }

  /** Something to close when the demo stops (closed in reverse order of adding). */
  add(close: () => Promise<unknown>): void {
    this.closers.push(close);
  }

  /** A temporary folder to remove last. */
  folder(path: string): void {
    this.folders.push(path);
  }

  /** A check after everything is closed: what is left behind, or undefined when nothing is. */
  verify(check: () => Promise<string | undefined>): void {
    this.checks.push(check);
  }

  stop(code: number): Promise<void> {
    this.stopping ??= (async () => {
      console.log('\n==> Stopping everything the demo started');
      for (const close of [...this.closers].reverse()) await close().catch(() => {});
      for (const f of this.folders) rmSync(f, { recursive: true, force: true });
      const left = this.folders.filter((d) => existsSync(d));
      const leftovers = (await Promise.all(this.checks.map((c) => c().catch((e: unknown) => String(e))))).filter(Boolean);
      console.log(`    processes stopped, ${left.length ? `FOLDERS LEFT: ${left.join(' ')}` : `temporary folders removed: ${this.folders.join(' ')}`}`);
      for (const l of leftovers) console.log(`    LEFT BEHIND: ${l}`);
      process.exit(code);
    })();
    return this.stopping;
  }
}
