/**
 * Watches as a test sees them: one through a hub that re-watches from its last resourceVersion
 * whenever the stream ends (what a client-go reflector does), and one straight on the apiserver
 * that records every change of a node's Ready condition.
 */
import * as k8s from '@kubernetes/client-node';

/**
 * A watch of one collection through a hub, as a component with `userAgent`. It connects again from
 * the last resourceVersion it saw after every end or error, counting connections, and keeps the names
 * of the objects it saw ADDED. A 410 Gone (an ERROR event) is kept in `gone`: it would need a re-list.
 */
export class HubWatch {
  /** Watch requests made: 1 after the first connection, +1 for every re-watch. */
  connects = 0;
  /** Watch responses that were not 200 (a refusal, or an error Status). */
  refusals = 0;
  readonly added = new Set<string>();
  readonly gone: unknown[] = [];
  private stopped = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly hubUrl: string,
    private readonly path: string,
    private resourceVersion: string,
    private readonly userAgent: string,
  ) {}

  /** Resolves once the first watch has its response headers (the hub has picked a server for it). */
  async start(): Promise<void> {
    let connected!: () => void;
    const first = new Promise<void>((r) => (connected = r));
    this.loop = this.run(connected);
    await first;
  }

  private async run(connected: () => void): Promise<void> {
    while (!this.stopped) {
      this.connects++;
      try {
        const url = `${this.hubUrl}${this.path}?watch=true&allowWatchBookmarks=true&resourceVersion=${this.resourceVersion}`;
        const res = await fetch(url, { headers: { 'user-agent': this.userAgent, accept: 'application/json' }, signal: this.abort.signal });
        connected();
        if (res.status !== 200) {
          this.refusals++;
          await res.text();
        } else {
          await this.read(res);
        }
      } catch {
        connected();
        // a broken stream: watch again, as a reflector does
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, 200));
    }
  }

  private async read(res: Response): Promise<void> {
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffered += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!line) continue;
        const event = JSON.parse(line) as { type: string; object: { metadata?: { name?: string; resourceVersion?: string } } };
        if (event.type === 'ERROR') {
          this.gone.push(event.object);
          continue;
        }
        if (event.object.metadata?.resourceVersion) this.resourceVersion = event.object.metadata.resourceVersion;
        if (event.type === 'ADDED' && event.object.metadata?.name) this.added.add(event.object.metadata.name);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loop;
  }
}

export type ReadyEntry = { status: string; reason: string } | { mark: string };

/**
 * Every change of a node's Ready condition status as the apiserver stores it, from a watch on the
 * apiserver itself (no hub in between), interleaved with the test's own marks ("link cut", ...).
 * A watch sees every write, so a short True→Unknown→True flap cannot slip between two polls.
 */
export class NodeReadyRecorder {
  readonly entries: ReadyEntry[] = [];
  private resourceVersion = '';
  private controller: AbortController | undefined;
  private stopped = false;

  constructor(
    private readonly kc: k8s.KubeConfig,
    private readonly node: string,
  ) {}

  async start(): Promise<void> {
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const list = await core.listNode({ fieldSelector: `metadata.name=${this.node}` });
    for (const n of list.items) this.observe(n);
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    await this.watch();
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    this.controller = await new k8s.Watch(this.kc).watch(
      '/api/v1/nodes',
      { fieldSelector: `metadata.name=${this.node}`, resourceVersion: this.resourceVersion, allowWatchBookmarks: true },
      (type, obj: k8s.V1Node) => {
        if (obj?.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
        if (type === 'ADDED' || type === 'MODIFIED') this.observe(obj);
      },
      () => {
        if (!this.stopped) setTimeout(() => void this.watch().catch(() => setTimeout(() => void this.watch(), 1000)), 200);
      },
    );
  }

  private observe(node: k8s.V1Node): void {
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    if (!ready) return;
    const last = [...this.entries].reverse().find((e): e is { status: string; reason: string } => 'status' in e);
    if (last?.status !== ready.status) this.entries.push({ status: ready.status, reason: ready.reason ?? '' });
  }

  mark(what: string): void {
    this.entries.push({ mark: what });
  }

  /** The current Ready status ('' before the node has one). */
  get status(): string {
    const last = [...this.entries].reverse().find((e): e is { status: string; reason: string } => 'status' in e);
    return last?.status ?? '';
  }

  /**
   * The history as Ready / NotReady (Unknown and False alike) and marks, with repeats folded:
   * e.g. ['Ready', '#link cut', 'NotReady', '#link healed', 'Ready'].
   */
  summary(): string[] {
    const out: string[] = [];
    let lastState = '';
    for (const e of this.entries) {
      if ('mark' in e) {
        out.push(`#${e.mark}`);
        continue;
      }
      const state = e.status === 'True' ? 'Ready' : 'NotReady';
      if (state !== lastState) out.push(state);
      lastState = state;
    }
    return out;
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
  }
}
