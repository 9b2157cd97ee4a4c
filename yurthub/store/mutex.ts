/**
 * Serializes async critical sections per key. The LevelDB backend's writes are read-decide-write
 * (which members left a scope, is an object held elsewhere, is the stored RV newer); two of those on
 * one resource interleaving could delete an object another scope just claimed. Reads need no lock:
 * they use LevelDB snapshots.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      // Drop the entry once nobody queued behind us, so the map does not grow with every key seen.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
