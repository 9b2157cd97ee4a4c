/**
 * A list+watch cache on @kubernetes/client-node's makeInformer, with what a controller needs on top:
 * a synced flag (a full list is in the cache), restart with backoff after a list or watch error (the
 * library's informer stops on errors), and errors after close ignored.
 */
import { makeInformer, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { YurtError } from '../errors.js';
import type { Clock, Component } from '../lifecycle.js';
import { once } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import { SyncGate } from './sync-gate.js';

export interface InformerHandlers<T> {
  add?(obj: T): void;
  update?(obj: T): void;
  delete?(obj: T): void;
}

export interface InformerOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** Resource name for logs and metrics, e.g. `pods`. */
  resource: string;
  /** Watch path, e.g. `/api/v1/pods`. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  /** Label selector for the watch; `list` must ask with the same one. */
  labelSelector?: string;
  handlers: InformerHandlers<T>;
  clock: Clock;
  logger: Logger;
  onSyncedChange?: (synced: boolean) => void;
  backoff?: { baseMs: number; maxMs: number };
  /** The program's own error for a failed list or watch, logged with its code before each retry. */
  retryError: (resource: string, detail: string) => YurtError;
}

export class Informer<T extends KubernetesObject> implements Component {
  private readonly informer: ReturnType<typeof makeInformer<T>>;
  private readonly log: Logger;
  private readonly stopping = new AbortController();
  private listedThisAttempt = false;
  private failures = 0;
  private restarting = false;
  private readonly syncGate = new SyncGate();
  readonly close: () => Promise<void>;

  constructor(private readonly options: InformerOptions<T>) {
    this.log = options.logger.child({ component: 'informer', resource: options.resource });
    const list = async () => {
      const result = await options.list();
      this.listedThisAttempt = true;
      return result;
    };
    this.informer = makeInformer<T>(options.kubeConfig, options.path, list, options.labelSelector);
    const { handlers } = options;
    if (handlers.add) this.informer.on('add', (o) => handlers.add!(o));
    if (handlers.update) this.informer.on('update', (o) => handlers.update!(o));
    if (handlers.delete) this.informer.on('delete', (o) => handlers.delete!(o));
    this.informer.on('error', (err) => this.onError(err));
    this.close = once(async () => {
      this.stopping.abort();
      await this.informer.stop();
    });
  }

  get synced(): boolean {
    return this.syncGate.isOpen;
  }

  /** Resolves once the cache holds a full list; rejects if the signal ends first. */
  waitSynced(signal: AbortSignal): Promise<void> {
    return this.syncGate.wait(signal);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  list(): readonly T[] {
    return this.informer.list();
  }

  /** Starts listing and watching in the background; returns at once (see waitSynced). */
  async start(): Promise<void> {
    void this.attempt();
  }

  private async attempt(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    this.listedThisAttempt = false;
    try {
      await this.informer.start();
    } catch (err) {
      this.onError(err);
      return;
    }
    if (this.listedThisAttempt && !this.stopping.signal.aborted) {
      this.failures = 0;
      const first = this.syncGate.open();
      this.log.info({ objects: this.informer.list().length }, first ? 'cache synced' : 're-listed');
      if (first) this.options.onSyncedChange?.(true);
    }
  }

  private onError(err: unknown): void {
    if (this.stopping.signal.aborted || this.restarting) return;
    this.restarting = true;
    const { baseMs, maxMs } = this.options.backoff ?? { baseMs: 1000, maxMs: 30_000 };
    const delayMs = Math.min(baseMs * 2 ** this.failures++, maxMs);
    const text = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    const failure = this.options.retryError(this.options.resource, `${text}; list+watch again in ${delayMs} ms`);
    this.log.warn({ delayMs, code: failure.code }, failure.message);
    this.options.clock.delay(delayMs, this.stopping.signal).then(
      () => {
        this.restarting = false;
        void this.attempt();
      },
      () => {},
    );
  }
}
