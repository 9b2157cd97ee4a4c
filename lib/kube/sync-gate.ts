/**
 * The first full list of a cache, as its readers wait for it: `open()` once the list is in, and every
 * `wait()` resolves (later ones at once); a waiter's own signal ending first rejects it. Shared by the
 * client-node informer (lib/kube/informer.ts) and the light list+watch (lib/kube/list-watch.ts).
 */
export class SyncGate {
  private opened = false;
  private waiters: Array<() => void> = [];

  get isOpen(): boolean {
    return this.opened;
  }

  /** Releases every waiter; true the first time (the cache just synced), false after. */
  open(): boolean {
    if (this.opened) return false;
    this.opened = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
    return true;
  }

  /** Resolves once open; rejects with the signal's reason if it ends first. */
  wait(signal: AbortSignal): Promise<void> {
    if (this.opened) return Promise.resolve();
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}
