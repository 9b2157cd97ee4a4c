/**
 * yurthub's response filters (issue 14): a 10,000-endpoint EndpointSlice list and a watch of those
 * slices through two hubs of the same build in the same run, one with the filters on and one with
 * `--disabled-resource-filters` naming all of them, as kube-proxy (User-Agent) reads them. The Service
 * is annotated `openyurt.io/topologyKeys: openyurt.io/nodepool`, so `servicetopology` really narrows
 * every slice (10 of the 50 nodes are in the hub's pool): the worst case, not a pass-through.
 *
 * Two Accept headers: kube-proxy's own (`application/vnd.kubernetes.protobuf, *` + `/*`), protobuf
 * on both sides (the filtering hub filters protobuf natively, list items as they stream in); and
 * plain JSON on both sides, where the filtering hub must scan for the list items (JSON has no lengths). LIST
 * latency twice over: request to the answer's last byte, and request to the list decoded by the client
 * (list-client.ts: gzip inflated, JSON parsed or protobuf decoded field by field), because the unfiltered
 * hub's answer is gzip and the filtered one is plain and 5x smaller. Watch: patch to event arrival. CPU:
 * the hub process's threads' run time (schedstat), including the cache write a LIST leaves behind.
 * LIST figures are the median of per-round ratios: each round's on and off LISTs run back to back,
 * so a burst of other work on the shared machine spoils one ratio, not the estimate.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { waitFor } from '../test/cluster/process.js';
import { JSON_TYPE, NODE, startBenchHub, startHubBench } from './bench-cluster.js';
import { Cleanups } from './cleanup.js';
import type { HubChild } from './hub-process.js';
import { endpoint, pool, sendOk, type Endpoint } from './http.js';
import { timedList, type ListTimes } from './list-client.js';
import { cpuMs, cpuPreciseMs, MachineLoad, nproc, waitIdle } from './proc.js';
import { benchLog, machine, machineLoad, table, type Row } from './report.js';
import { ms, percentile, ratio, summarize } from './stats.js';

const NS = 'bench-filters';
const SERVICE = 'edge-svc';
const SLICES = 100;
const PER_SLICE = 100;
const NODES = 50;
const POOL_SIZE = 10;
const LIST_ROUNDS = 36;
const WATCH_EVENTS = 40;
const KUBE_PROXY_UA = 'kube-proxy/v1.37.2 (linux/amd64) kubernetes/bench';
const KUBE_PROXY_ACCEPT = 'application/vnd.kubernetes.protobuf, */*';
const ALL_FILTERS = 'masterservice,inclusterconfig,servicetopology,discardcloudservice,nodeportisolation';
const SLICES_PATH = `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`;
const TARGET = 1.1;

const log = benchLog('filters');
const nodeName = (i: number) => (i === 0 ? NODE : `bench-node-${String(i).padStart(2, '0')}`);

async function populate(admin: Endpoint): Promise<void> {
  const post = (path: string, body: unknown) => sendOk(admin, path, { method: 'POST', headers: { 'content-type': JSON_TYPE }, body: JSON.stringify(body) });
  await post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  await pool(Array.from({ length: NODES }, (_, i) => i), 8, async (i) => {
    await post('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName(i), labels: { 'apps.openyurt.io/nodepool': i < POOL_SIZE ? 'pool-a' : 'pool-b' } } });
  });
  await post('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'bench-node-proxier' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:node-proxier' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: `system:node:${NODE}` }],
  });
  await post(`/api/v1/namespaces/${NS}/services`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: SERVICE, annotations: { 'openyurt.io/topologyKeys': 'openyurt.io/nodepool' } },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  });
  await pool(Array.from({ length: SLICES }, (_, s) => s), 8, async (s) => {
    await post(`/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`, {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${SERVICE}-${String(s).padStart(3, '0')}`, labels: { 'kubernetes.io/service-name': SERVICE, 'endpointslice.kubernetes.io/managed-by': 'bench' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: Array.from({ length: PER_SLICE }, (_, e) => ({
        addresses: [`10.${100 + Math.floor(s / 2)}.${(s % 2) * 100 + e}.${1 + (e % 250)}`],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: nodeName((s * PER_SLICE + e) % NODES),
        targetRef: { kind: 'Pod', namespace: NS, name: `pod-${s}-${e}` },
      })),
    });
  });
}

/** Endpoints in a JSON list: every one names its node. */
function endpointCount(body: Buffer): number {
  return body.toString('utf8').split('"nodeName":').length - 1;
}

interface Side {
  name: 'on' | 'off';
  hub: HubChild;
  ep: Endpoint;
}

interface ListRun {
  /** Per side, one sample per round. */
  lastByte: Record<'on' | 'off', number[]>;
  decoded: Record<'on' | 'off', number[]>;
  cpu: Record<'on' | 'off', number[]>;
  /** Per round, on / off of the two adjacent LISTs. */
  ratios: { lastByte: number[]; decoded: number[]; cpu: number[] };
  /** Mean CPU per list in /proc ticks (utime + stime), to check the scheduler's figure against. */
  tickCpu: Record<'on' | 'off', number>;
  sample: Record<'on' | 'off', ListTimes>;
}

async function listFigures(sides: Side[], accept: string): Promise<ListRun> {
  const two = <T>(f: () => T) => ({ on: f(), off: f() });
  const run: ListRun = { lastByte: two(() => [] as number[]), decoded: two(() => [] as number[]), cpu: two(() => [] as number[]), ratios: { lastByte: [], decoded: [], cpu: [] }, tickCpu: two(() => 0), sample: {} as ListRun['sample'] };
  for (const s of sides) run.sample[s.name] = await timedList(s.ep, SLICES_PATH, { accept, 'accept-encoding': 'gzip', 'user-agent': KUBE_PROXY_UA }); // warm-up: caches filled, code hot
  for (const s of sides) {
    if (run.sample[s.name].items !== SLICES) throw new Error(`filters ${s.name}: the client decoded ${run.sample[s.name].items} slices, not ${SLICES}`);
  }
  for (let r = 0; r < LIST_ROUNDS; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const s of order) {
      await waitIdle(s.hub.pid);
      const c0 = cpuPreciseMs(s.hub.pid);
      const k0 = cpuMs(s.hub.pid);
      const t = await timedList(s.ep, SLICES_PATH, { accept, 'accept-encoding': 'gzip', 'user-agent': KUBE_PROXY_UA });
      run.lastByte[s.name].push(t.lastByte);
      run.decoded[s.name].push(t.decoded);
      await waitIdle(s.hub.pid);
      run.cpu[s.name].push(cpuPreciseMs(s.hub.pid) - c0);
      run.tickCpu[s.name] += (cpuMs(s.hub.pid) - k0) / LIST_ROUNDS;
    }
    for (const k of ['lastByte', 'decoded', 'cpu'] as const) run.ratios[k].push(run[k].on[r]! / run[k].off[r]!);
  }
  return run;
}

/** A watch through one hub that timestamps each event as it arrives (JSON lines, or protobuf frames). */
class TimedWatch {
  readonly arrivals: number[] = [];
  private res: IncomingMessage | undefined;
  private buffered = Buffer.alloc(0);
  protobuf = false;

  constructor(private readonly side: Side, private readonly accept: string, private readonly rv: string) {}

  async open(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        { host: this.side.ep.base.hostname, port: this.side.ep.base.port, path: `${SLICES_PATH}?watch=true&resourceVersion=${this.rv}&timeoutSeconds=600`, agent: false, headers: { accept: this.accept, 'user-agent': KUBE_PROXY_UA } },
        (res) => {
          this.res = res;
          this.protobuf = (res.headers['content-type'] ?? '').includes('protobuf');
          res.on('data', (c: Buffer) => this.push(c));
          resolve();
        },
      );
      req.once('error', reject);
      req.end();
    });
  }

  private push(chunk: Buffer): void {
    const now = performance.now();
    this.buffered = Buffer.concat([this.buffered, chunk]);
    for (;;) {
      if (this.protobuf) {
        if (this.buffered.length < 4) return;
        const len = this.buffered.readUInt32BE(0);
        if (this.buffered.length < 4 + len) return;
        this.buffered = this.buffered.subarray(4 + len);
      } else {
        const nl = this.buffered.indexOf(0x0a);
        if (nl === -1) return;
        this.buffered = this.buffered.subarray(nl + 1);
      }
      this.arrivals.push(now);
    }
  }

  close(): void {
    this.res?.destroy();
  }
}

async function watchFigures(sides: Side[], admin: Endpoint, accept: string): Promise<Record<'on' | 'off', { latency: number[]; cpu: number }>> {
  const list = await sendOk(admin, `${SLICES_PATH}?limit=1`, { headers: { accept: JSON_TYPE }, keepBody: true });
  const rv = (JSON.parse(list.body!.toString('utf8')) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
  const watches = sides.map((s) => ({ side: s, watch: new TimedWatch(s, accept, rv) }));
  for (const w of watches) await w.watch.open();
  const out = { on: { latency: [] as number[], cpu: 0 }, off: { latency: [] as number[], cpu: 0 } };
  const cpu0 = sides.map((s) => cpuPreciseMs(s.hub.pid));
  try {
    for (let i = 0; i < WATCH_EVENTS; i++) {
      const slice = `${SERVICE}-${String(i % SLICES).padStart(3, '0')}`;
      const t0 = performance.now();
      await sendOk(admin, `${SLICES_PATH}/${slice}`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ metadata: { labels: { 'bench-round': `${Date.now()}-${i}` } } }) });
      await waitFor(`event ${i} through both hubs`, async () => watches.every((w) => w.watch.arrivals.length > i), 20_000, 2);
      for (const w of watches) out[w.side.name].latency.push(w.watch.arrivals[i]! - t0);
    }
    for (const [n, s] of sides.entries()) {
      await waitIdle(s.hub.pid);
      out[s.name].cpu = cpuPreciseMs(s.hub.pid) - cpu0[n]!;
    }
  } finally {
    for (const w of watches) w.watch.close();
  }
  return out;
}

const kb = (bytes: number) => `${Math.round(bytes / 1000)} KB`;
const kbOf = (run: ListRun | undefined, side: 'on' | 'off') => (run ? (run.sample[side].wireBytes === run.sample[side].plainBytes ? `${kb(run.sample[side].wireBytes)} plain` : `${kb(run.sample[side].wireBytes)} of gzip`) : 'n/a');

/** The table rows of one LIST run: each figure the median of the per-round on/off ratios. */
function listRows(label: string, l: ListRun): { rows: Row[]; note: string; medians: Record<'lastByte' | 'decoded' | 'cpu', number> } {
  const rows: Row[] = [];
  const medians = { lastByte: Number.NaN, decoded: Number.NaN, cpu: Number.NaN };
  const spread: string[] = [];
  const kinds = [
    ['lastByte', 'latency to the last byte (as sent)'],
    ['decoded', 'time to the decoded list (client inflates, decodes)'],
    ['cpu', 'hub CPU per list'],
  ] as const;
  for (const [k, what] of kinds) {
    const on = summarize(l[k].on);
    const off = summarize(l[k].off);
    const sorted = [...l.ratios[k]].sort((a, b) => a - b);
    const med = percentile(sorted, 50);
    medians[k] = med;
    rows.push({ what: `LIST 10,000 endpoints, ${label}: ${what}, median of ${sorted.length} per-round on/off ratios`, baseline: `${ms(off.p50)} ms (p90 ${ms(off.p90)})`, measured: `${ms(on.p50)} ms (p90 ${ms(on.p90)})`, figure: ratio(med), target: `≤ ${TARGET}×`, met: med <= TARGET });
    spread.push(`${what.replace(/ \(.*\)$/, '')} ${ratio(percentile(sorted, 25))}–${ratio(percentile(sorted, 75))}`);
  }
  const body = (t: ListTimes) => (t.wireBytes === t.plainBytes ? `${kb(t.plainBytes)} plain` : `${kb(t.wireBytes)} of gzip for ${kb(t.plainBytes)}`);
  const note = `${label}: the client got ${body(l.sample.on)} (filters on) and ${body(l.sample.off)} (off); interquartile range of the per-round ratios: ${spread.join(', ')}; CPU per list in /proc ticks, for comparison: ${ms(l.tickCpu.off)} → ${ms(l.tickCpu.on)} ms`;
  return { rows, note, medians };
}

export async function runFiltersBench(): Promise<{ markdown: string }> {
  const started = Date.now();
  const cleanups = new Cleanups('filters');
  try {
    const bench = await startHubBench(cleanups, log);
    const { cluster, admin } = bench;
    log(`creating ${NODES} nodes and ${SLICES} EndpointSlices of ${PER_SLICE} endpoints`);
    await populate(admin);

    const sides: Side[] = [];
    for (const name of ['on', 'off'] as const) {
      const dir = join(cluster.dir, `hub-filters-${name}`);
      const extra = ['--health-check-period=1s', '--health-check-timeout=1s', ...(name === 'off' ? [`--disabled-resource-filters=${ALL_FILTERS}`] : [])];
      const hub = await startBenchHub(bench, cleanups, `hub (filters ${name})`, dir, extra);
      sides.push({ name, hub, ep: endpoint(hub.url, undefined, 4) });
    }
    const count = async (s: Side) => endpointCount((await sendOk(s.ep, SLICES_PATH, { headers: { accept: JSON_TYPE, 'user-agent': KUBE_PROXY_UA }, keepBody: true })).body!);
    await waitFor('the filtering hub to narrow the slices to its pool', async () => (await count(sides[0]!)) === (SLICES * PER_SLICE * POOL_SIZE) / NODES, 60_000, 500);
    const seen = { on: await count(sides[0]!), off: await count(sides[1]!) };
    log(`endpoints seen by kube-proxy: filters on ${seen.on}, off ${seen.off}`);

    const load = new MachineLoad(Number(nproc()) || 1);
    const rows: Row[] = [];
    const notes: string[] = [];
    let protoRun: ListRun | undefined;
    for (const [label, accept] of [['kube-proxy\'s Accept', KUBE_PROXY_ACCEPT], ['JSON on both sides', JSON_TYPE]] as const) {
      log(`LIST, ${label}: ${LIST_ROUNDS} rounds per side, alternating`);
      const run = await listFigures(sides, accept);
      if (accept === KUBE_PROXY_ACCEPT) protoRun = run;
      const l = listRows(label, run);
      rows.push(...l.rows);
      notes.push(l.note);
      log(`WATCH, ${label}: ${WATCH_EVENTS} MODIFIED events of a ${PER_SLICE}-endpoint slice`);
      const w = await watchFigures(sides, admin, accept);
      const wl = { on: summarize(w.on.latency), off: summarize(w.off.latency) };
      rows.push({ what: `WATCH, ${label}: patch → event latency p50`, baseline: `${ms(wl.off.p50)} ms`, measured: `${ms(wl.on.p50)} ms`, figure: ratio(wl.on.p50 / wl.off.p50), target: `≤ ${TARGET}×`, met: wl.on.p50 / wl.off.p50 <= TARGET });
      rows.push({ what: `WATCH, ${label}: hub CPU for ${WATCH_EVENTS} events`, baseline: `${ms(w.off.cpu)} ms`, measured: `${ms(w.on.cpu)} ms`, figure: ratio(w.on.cpu / w.off.cpu), target: `≤ ${TARGET}×`, met: w.on.cpu / w.off.cpu <= TARGET });
      notes.push(`${label}: watch latency p90 ${ms(wl.off.p90)} → ${ms(wl.on.p90)} ms`);
    }
    // The common case: filters on, but no Service annotated, so nothing a LIST returns could change.
    await sendOk(admin, `/api/v1/namespaces/${NS}/services/${SERVICE}`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ metadata: { annotations: { 'openyurt.io/topologyKeys': null } } }) });
    await waitFor('the filtering hub to see no annotated Service', async () => (await count(sides[0]!)) === SLICES * PER_SLICE, 60_000, 500);
    log(`LIST, kube-proxy's Accept, no Service annotated: ${LIST_ROUNDS} rounds per side`);
    const floor = listRows('kube-proxy\'s Accept, no Service annotated', await listFigures(sides, KUBE_PROXY_ACCEPT));
    rows.push(...floor.rows);
    notes.push(floor.note);
    const machineReport = load.stop([cluster.info.pid, ...sides.map((s) => s.hub.pid)]);
    const minutes = ((Date.now() - started) / 60_000).toFixed(1);
    const markdown = [
      '## Response filters (yurthub)',
      '',
      `Generated by \`npm run bench -- filters\` (bench/filters.ts) on ${new Date().toISOString().slice(0, 10)}, ${minutes} min. ${machine(nproc())}.`,
      '',
      `Two hubs of the same build against the harness's real kube-apiserver, in the same run: **filters on** (measured) and **all filters off** (\`--disabled-resource-filters\`, baseline). kube-proxy's User-Agent reads ${SLICES} EndpointSlices of ${PER_SLICE} endpoints (10,000) of one Service annotated \`openyurt.io/topologyKeys: openyurt.io/nodepool\`; the hub's node is in a pool of ${POOL_SIZE} of ${NODES} nodes, so \`servicetopology\` narrows every slice (kube-proxy sees ${seen.on} of ${seen.off} endpoints with the filters on). LISTs alternate sides (on off, off on, ...), ${LIST_ROUNDS} rounds after a warm-up, gzip accepted, the hub idle before and after each; every LIST figure is the median of the ${LIST_ROUNDS} per-round ratios (on/off of the round's two LISTs, back to back), with each side's p50 and p90 beside it; a watch of the slices is open through both hubs while ${WATCH_EVENTS} slices are patched one at a time, each event timed from the patch to its arrival. CPU is the hub process's (all its threads' run time from /proc/<pid>/task/*/schedstat, in nanoseconds; /proc's utime and stime come in 10 ms ticks, more than half a list's CPU), cache writes included.`,
      '',
      table(rows),
      '',
      ...notes.map((n) => `- ${n}`),
      '',
      '- kube-proxy\'s Accept is answered in protobuf by both hubs: the filtering hub filters protobuf natively (servicetopology, discardcloudservice and nodeportisolation read the fields they need by number, docs/yurthub.md, "JSON and protobuf"), so both ask the apiserver the same thing. Before that change the filtering hub asked for JSON and this row pair read 3.64× latency and 2.86× CPU (this section before commit 5a09e3a).',
      '- Where the filtered LIST\'s time goes: the hub asks the apiserver for gzip on the cloud link, so the body is inflated while it arrives, on the event loop\'s thread, chunk by chunk (yurthub/proxy/sync-gunzip.ts: node:zlib\'s own engine driven through the synchronous write `zlib.gunzipSync` uses; in process ~1.1 GB/s of output, 0.7 ms of CPU for the reproduction\'s 0.8 MB list in 16 KB chunks). Before, a node:zlib stream inflated it in batched writes of up to 1 MiB of output, each a thread-pool round trip, i.e. a wake-up on the answer\'s path (the default 16 KiB made ~40 of them for this list; smaller batches made the tail longer). fflate 0.8\'s streaming Gunzip (pure JavaScript) was measured too and not taken: 200–380 MB/s in 16 KB chunks, 56–66 MB/s in 1 KB ones, 4–15× node:zlib\'s CPU. Protobuf list items are filtered as the inflated bytes come (no scanning: every field carries its length; node names matched as bytes); only the list\'s outer length prefix waits for the last byte, so the narrowed list goes out in one plain (uncompressed) write at the end, which the kernel took whole in the reproduction. The unfiltered hub relays the gzip bytes as they come and inflates its cache copy off the answer\'s path. In a reproduction outside the cluster (relay() with and without servicetopology, that list gzipped to 72 KB and sent in 16 KB writes 1 ms apart) the filtering hub ends its answer 0.07–0.11 ms after the apiserver\'s last byte, against 0.12–0.21 ms with the batched thread-pool writes; the unfiltered one ends at it. Traced inside both hubs in this benchmark (tracing not kept; medians of the 20 annotated LISTs): with the batched thread-pool writes the filtering hub ended its answer 1.11 ms after the apiserver\'s last byte (that run read 1.39× here), with the inflate on the event loop\'s thread 0.11–0.25 ms in five runs (1.02–1.23×), the unfiltered hub 0.01 ms; the apiserver\'s last byte reached the filtering hub\'s code 0.3–1.3 ms later than the unfiltered one\'s, either way: its event loop inflates and filters each frame before it reads the next, and much of this list comes in the apiserver\'s last flushes. The narrowed list, 202 KB, is taken whole by the socket (nothing left queued in Node after end()). Compressing it again for a client that takes gzip (level 1, at the end) put the answer\'s end 0.6 ms after the last byte, so it is sent plain. The latency row of the same code swung from 0.92× to 1.38× between runs on this shared machine.',
      '- The filter\'s own CPU for 10,000 endpoints, in process: 1.5 ms before commits 5e6903b, 4bd5cfa and 46f5266, 0.9 ms since (endpoints left out one after another copied as one run, not one subarray each; each item\'s ObjectMeta read by offsets for the name, namespace and service-name label only, where every label and annotation was decoded; no heap number per node-name hash; a changed item\'s header made as bytes). The rest of the CPU row is not the filter\'s code: in the reproduction, a filter that keeps every item costs the same extra. It is V8 garbage collection: there the filtering hub ran 20–30 full GCs per 100 lists (inflated bodies are external memory), the unfiltered one anywhere from 1 to 28 depending on the run, and when it ran as many its CPU per list matched the filtering hub\'s. Since commit 6baa17a the hub runs with V8\'s `--external-memory-accounted-in-global-limit`, as the tunnel does (lib/heap.ts): in the reproduction both hubs then ran about 13 per 100 lists and spent the same CPU per list, 5.6–5.9 ms where it had been 7–8.',
      '- JSON on both sides: a JSON body has no lengths to split it by, so the filtering hub scans the inflated bytes for the list\'s items as they come (lib/kube/json-list-stream.ts: one byte loop, strings in an inner loop of their own; 0.8–1.3 GB/s in process on this machine, where JSON.parse of the same list reads 0.26–0.30 GB/s), parses and filters each item once its last byte is in, and writes what passes to the client at once (a kept item as the apiserver\'s bytes, a changed one stringified). In process a 2.5 MB list narrowed as here costs the same CPU either way (~9 ms), and what is left after its last 64 KiB is 0.4–1.4 ms instead of a parse of the whole (19–23 ms on the loaded machine). The latency row does not show it: the apiserver\'s gzip writer sends much of this very compressible list (96 KB of gzip for 2.0 MB of JSON) in its last flushes, so in a traced run (12 lists) 10–90 % of the JSON came out of the inflater after the apiserver\'s last byte and was parsed then, and the answer ended 3 ms after that byte when 10–20 % was left, 12–30 ms after it when 60–90 % was. Until commit 6956386 the body was parsed whole at its end (a streaming splitter tried before then had spent twice the CPU). To close the latency row a filter has to read JSON items without parsing them whole, as the protobuf path does. The cache writer takes the document made of the parsed items, so the body is parsed once (the CPU row was 1.26× before commit 87dbafd, when it was parsed twice). kube-proxy never asks JSON only.',
      `- **Which latency row is which.** "Latency to the last byte (as sent)": from the request to the last byte of the answer on the client's socket; the unfiltered hub relays the apiserver's gzip bytes as they come, the filtering hub sends the narrowed list plain (protobuf ${kbOf(protoRun, 'on')} against ${kbOf(protoRun, 'off')}), so this row compares bytes a client cannot use yet. "Time to the decoded list": the same request until the client holds the decoded list, measured the same way on both sides: a gzip body is piped through node:zlib's gunzip as it arrives (as a Node client does; client-go's gzip reader also inflates as it reads), a plain one is collected; then JSON is JSON.parse'd, and protobuf is decoded with lib/kube/protobuf.ts (decodeUnknown, decodeList) and every item walked field by field with lib/kube/protobuf-wire.ts's reader (bench/list-client.ts: varints and fixed fields read, each length-delimited field decoded as a nested message where it parses as one, else read as a string; the repository has no complete generated EndpointSlice decoder). That walker reads 70–90 MB/s of protobuf in process on this machine (JSON.parse of the same slices: 170–210 MB/s of JSON, 5× the bytes); Go's generated decoder in kube-proxy is faster, so for kube-proxy the decoded row's truth lies between the two rows. Both rows are judged against the target.`,
      `- **Noise floor.** Without an annotated Service (the last three LIST rows, the usual cluster) nothing is decoded and a LIST costs what it costs unfiltered; the two hubs run the same code, so those rows' distance from 1.00× is this run's noise: ${ratio(floor.medians.lastByte)} to the last byte, ${ratio(floor.medians.decoded)} to the decoded list, ${ratio(floor.medians.cpu)} CPU. With the estimate used before (each side's p50 of 20 LISTs compared, CPU in ticks), the same rows read 1.08–1.23× latency and 1.2–1.3× CPU in recent runs. Watch rows pay per event; their CPU rows are the scheduler's nanosecond count for the whole watch (40 events, and the timers and health checks of the same seconds on both hubs), where ticks of 10 ms made them noise. kube-proxy lists once at start and after a broken watch, then watches.`,
      '',
      machineLoad(machineReport),
    ].join('\n');
    return { markdown };
  } finally {
    await cleanups.run();
  }
}
