/**
 * `npm run bench -- cloud-link`: the bytes a LIST costs on the link between the node and the cloud,
 * straight from the apiserver (the baseline) and through the hub, counted at a TCP proxy in front of
 * the apiserver on each path: TLS records and HTTP heads included, both directions. The hub asks the
 * apiserver for gzip on every cacheable request whatever its client asked (yurthub/proxy/remote.ts),
 * so a client that does not ask for gzip costs the link what one that asks does.
 *
 * `LINK_BASE=<git rev> npm run bench -- cloud-link` also runs that revision's hub, checked out beside
 * the repository, in the same run: the change's before and after on one machine.
 */
import { rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import type { Agent as HttpsAgent } from 'node:https';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../test/cluster/local-cluster.js';
import { nodeHubArgs } from '../test/e2e/support/hub.js';
import { JSON_TYPE, LIST_PATH, NODE, PODS, populate, startHubBench, type HubBench } from './bench-cluster.js';
import { Cleanups } from './cleanup.js';
import { HubChild, ROOT, sources, transpileToTemp } from './hub-process.js';
import { endpoint, sendOk, type Endpoint } from './http.js';
import { MachineLoad, nproc, waitIdle } from './proc.js';
import { benchLog, machine, machineLoad } from './report.js';
import { mb, ms, ratio, summarize } from './stats.js';
import { checkout, workingTreeLabel } from './worktree.js';

const ROUNDS = 5;
const KUBELET_UA = 'kubelet/v1.37.2 (linux/amd64) kubernetes/bench';
const KUBELET_ACCEPT = `application/vnd.kubernetes.protobuf,${JSON_TYPE}`;
/** What kubelet lists when it starts, of what this cluster has: its Node, its pods, the Services. */
const STARTUP_PATHS = [`/api/v1/nodes?fieldSelector=${encodeURIComponent(`metadata.name=${NODE}`)}`, LIST_PATH, '/api/v1/services'];

const log = benchLog('cloud-link');

/** A TCP proxy that counts what crosses it: the cloud link of one path. */
class CountingLink {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  down = 0;
  up = 0;
  port = 0;
  /** Client connections open now. */
  open = 0;

  constructor(private readonly target: URL) {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      this.open++;
      client.once('close', () => this.open--);
      const upstream = connect(Number(this.target.port), this.target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.once('close', () => this.sockets.delete(s));
      }
      client.on('data', (c: Buffer) => (this.up += c.length));
      upstream.on('data', (c: Buffer) => (this.down += c.length));
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

interface Side {
  name: string;
  link: CountingLink;
  ep: Endpoint;
  /** The hub's process, waited on until idle after each LIST (its cache write); none for direct. */
  pid?: number;
}

interface Kind {
  what: string;
  paths: string[];
  headers: Record<string, string>;
}

const KINDS: Kind[] = [
  { what: `LIST ${PODS.toLocaleString('en-US')} pods, \`Accept: application/json\`, client without gzip (kubectl --disable-compression, client-node, curl)`, paths: [LIST_PATH], headers: { accept: JSON_TYPE } },
  { what: `LIST ${PODS.toLocaleString('en-US')} pods, \`Accept: application/json\`, client asks gzip (client-go's default)`, paths: [LIST_PATH], headers: { accept: JSON_TYPE, 'accept-encoding': 'gzip' } },
  { what: `LIST ${PODS.toLocaleString('en-US')} pods, kubelet's request (protobuf preferred, gzip)`, paths: [LIST_PATH], headers: { accept: KUBELET_ACCEPT, 'accept-encoding': 'gzip' } },
  { what: "kubelet's start-up LISTs (its Node, its pods, the Services), protobuf preferred, without gzip", paths: STARTUP_PATHS, headers: { accept: KUBELET_ACCEPT } },
];

interface Sample {
  bytes: number;
  ms: number;
}

async function measure(side: Side, kind: Kind): Promise<Sample> {
  if (side.pid !== undefined) await waitIdle(side.pid);
  side.link.down = side.link.up = 0;
  const t0 = performance.now();
  for (const path of kind.paths) {
    await sendOk(side.ep, path, { headers: { ...kind.headers, 'user-agent': KUBELET_UA } }).catch((err: Error) => {
      throw new Error(`${side.name}: GET ${path}: ${err.message}`, { cause: err });
    });
  }
  const took = performance.now() - t0;
  return { bytes: side.link.down + side.link.up, ms: took };
}

/** kubelet's reflectors at start: each LISTs, then WATCHes from the list's resourceVersion. */
const KUBELET_REFLECTORS = [
  `/api/v1/nodes?fieldSelector=${encodeURIComponent(`metadata.name=${NODE}`)}`,
  LIST_PATH,
  '/api/v1/services',
  '/apis/node.k8s.io/v1/runtimeclasses',
  '/apis/storage.k8s.io/v1/csidrivers',
];

interface Held {
  /** Connections open at the side's link before kubelet starts: the hub's own (health probes, its filters' watches). */
  before: number;
  /** … while kubelet's watches are open. */
  during: number;
}

/**
 * kubelet's start-up reflectors against one side, all at once, and the connections its link holds
 * once every watch is open. Direct is kubelet itself: client-go, one HTTP/2 connection to the
 * apiserver. Through a hub, kubelet's side is plain HTTP on loopback (not counted); what the hub
 * holds to the apiserver is.
 */
async function startupConnections(side: Side, tls: { ca: Buffer; cert: Buffer; key: Buffer }, resourceVersion: string): Promise<Held> {
  if (side.pid !== undefined) await waitIdle(side.pid);
  // Direct is kubelet starting: nothing kept from the benchmark's own HTTP/1.1 rounds above.
  else side.ep.agent.destroy();
  await new Promise((r) => setTimeout(r, 200));
  const before = side.link.open;
  const watches: Array<() => void> = [];
  let session: ClientHttp2Session | undefined;
  try {
    if (side.pid === undefined) session = h2connect(side.link.url, { ca: tls.ca, cert: tls.cert, key: tls.key });
    const watchPath = (path: string) => `${path}${path.includes('?') ? '&' : '?'}watch=true&allowWatchBookmarks=true&resourceVersion=${resourceVersion}&timeoutSeconds=300`;
    const headers = { accept: KUBELET_ACCEPT, 'accept-encoding': 'gzip', 'user-agent': KUBELET_UA };
    /** On client-go's one connection: a LIST read to its end, or a WATCH until its head. */
    const onSession = (s: ClientHttp2Session, path: string, watch: boolean) =>
      new Promise<void>((resolve, reject) => {
        const stream = s.request({ ':path': watch ? watchPath(path) : path, ...headers });
        stream.once('response', (h) => {
          if (Number(h[':status']) !== 200) return reject(new Error(`${watch ? 'watch' : 'list'} ${path}: ${h[':status']}`));
          if (watch) resolve();
          else stream.once('end', () => resolve());
        });
        stream.once('error', reject);
        stream.resume();
        if (watch) watches.push(() => stream.close());
      });
    await Promise.all(KUBELET_REFLECTORS.map(async (path) => {
      if (session) {
        await onSession(session, path, false);
        return onSession(session, path, true);
      }
      await sendOk(side.ep, path, { headers });
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(new URL(watchPath(path), side.ep.base), { agent: false, headers }, (res) => {
          res.resume();
          if (res.statusCode === 200) resolve();
          else reject(new Error(`watch ${path} through ${side.name}: ${res.statusCode}`));
        });
        req.once('error', reject);
        req.end();
        watches.push(() => req.destroy());
      });
    }));
    // The LISTs' connections that a keep-alive pool keeps idle count too: they are held.
    await new Promise((r) => setTimeout(r, 500));
    return { before, during: side.link.open };
  } finally {
    for (const stop of watches) stop();
    session?.close();
  }
}

async function startHub(bench: HubBench, cleanups: Cleanups, name: string, main: string): Promise<Side> {
  const link = new CountingLink(new URL(bench.cluster.info.server));
  await link.start();
  cleanups.push(`${name} link`, () => link.stop());
  // Beside the repository, not in the control plane's folder: the hub's log outlives the run.
  const dir = join(ROOT, '.tmp', 'bench-cloud-link', name.replace(/[^a-z0-9]+/gi, '-'));
  rmSync(dir, { recursive: true, force: true });
  const args = nodeHubArgs({ server: link.url, nodeName: NODE, cert: bench.nodeCert, caFile: bench.cluster.info.caFile, cacheDir: dir, port: await freePort() }, ['--health-check-period=1s']);
  const hub = new HubChild({ main, dir, args });
  await hub.start();
  cleanups.push(name, () => hub.stop());
  return { name, link, ep: endpoint(hub.url), pid: hub.pid };
}

export async function runCloudLinkBench(): Promise<{ markdown: string }> {
  const started = Date.now();
  const cleanups = new Cleanups('cloud-link');
  try {
    const baseRev = process.env.LINK_BASE?.trim();
    let base: { main: string; label: string; subject: string } | undefined;
    if (baseRev) {
      log(`checking out ${baseRev} and transpiling its hub`);
      const tree = checkout(baseRev);
      cleanups.push(`checkout of ${baseRev}`, () => tree.remove());
      const dir = transpileToTemp('yurthub-link-base-', [...sources(join(tree.dir, 'yurthub')), ...sources(join(tree.dir, 'lib'))], tree.dir);
      cleanups.push(`build of ${baseRev}`, () => rmSync(dir, { recursive: true, force: true }));
      base = { main: join(dir, 'yurthub', 'main.js'), label: tree.label, subject: tree.subject };
    }
    const bench = await startHubBench(cleanups, log);
    const load = new MachineLoad(Number(nproc()) || 1);
    log(`creating ${PODS} pods`);
    const { stopLease } = await populate(bench);
    cleanups.push('lease renewer', stopLease);

    const directLink = new CountingLink(new URL(bench.cluster.info.server));
    await directLink.start();
    cleanups.push('direct link', () => directLink.stop());
    const sides: Side[] = [{ name: 'direct', link: directLink, ep: { ...bench.direct, base: new URL(directLink.url) } }];
    if (base) sides.push(await startHub(bench, cleanups, `hub before (\`${base.label}\`)`, base.main));
    sides.push(await startHub(bench, cleanups, `hub${base ? ' after' : ''}: ${workingTreeLabel(['yurthub', 'lib'])}`, bench.built.main));

    const samples = new Map<string, Sample[]>();
    for (const kind of KINDS) {
      log(kind.what);
      // One warm-up per side: connections open, the hub's first cache write done.
      for (const side of sides) await measure(side, kind);
      for (let round = 0; round < ROUNDS; round++) {
        for (const side of sides) {
          const key = `${kind.what}\n${side.name}`;
          samples.set(key, [...(samples.get(key) ?? []), await measure(side, kind)]);
        }
      }
    }
    log("kubelet's start-up: connections held");
    const tlsOf = (bench.direct.agent as HttpsAgent).options as { ca: Buffer; cert: Buffer; key: Buffer };
    const rv = (JSON.parse((await sendOk(bench.direct, '/api/v1/services?limit=1')).body!.toString('utf8')) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const held = new Map<string, Held>();
    for (const side of sides) held.set(side.name, await startupConnections(side, tlsOf, rv));
    const report = load.stop([bench.cluster.info.pid, ...sides.flatMap((s) => (s.pid ? [s.pid] : []))]);

    const lines = [
      '## cloud-link: bytes between the node and the apiserver',
      '',
      `Run ${new Date(started).toISOString().slice(0, 19)}Z · ${machine(nproc())} · ${((Date.now() - started) / 1000).toFixed(0)} s · ${ROUNDS} rounds`,
      '',
      machineLoad(report),
      '',
      `| request | side | bytes on the link (p50) · ÷ direct | time to the last byte (p50, min–max) · ÷ direct |`,
      '|---|---|---|---|',
    ];
    for (const kind of KINDS) {
      const of = (side: Side) => samples.get(`${kind.what}\n${side.name}`)!;
      const direct = { bytes: summarize(of(sides[0]!).map((s) => s.bytes)).p50, time: summarize(of(sides[0]!).map((s) => s.ms)).p50 };
      for (const side of sides) {
        const b = summarize(of(side).map((s) => s.bytes));
        const t = summarize(of(side).map((s) => s.ms));
        const first = side === sides[0];
        lines.push(`| ${first ? kind.what : ''} | ${side.name} | ${mb(b.p50)}${first ? '' : ` · ${ratio(b.p50 / direct.bytes)}`} | ${ms(t.p50)} ms (${ms(t.min)}–${ms(t.max)})${first ? '' : ` · ${ratio(t.p50 / direct.time)}`} |`);
      }
    }
    lines.push(
      '',
      `| kubelet's start-up: its ${KUBELET_REFLECTORS.length} reflectors (its Node, its pods, Services, RuntimeClasses, CSIDrivers) each LIST then WATCH, all at once | connections to the apiserver while the watches are open | held before kubelet started (the hub's probes and own watches, connections kept from the LISTs above) |`,
      '|---|---|---|',
      ...sides.map((side) => `| ${side.name}${side === sides[0] ? ' (kubelet\'s client-go: one HTTP/2 connection)' : ''} | ${held.get(side.name)!.during} | ${side === sides[0] ? '—' : held.get(side.name)!.before} |`),
    );
    lines.push(
      '',
      '### How measured',
      '',
      `- **Cluster** as in the yurthub section: the harness's kube-apiserver on 127.0.0.1 (TLS), ${PODS.toLocaleString('en-US')} pods bound to \`${NODE}\`;`,
      '  every side presents that node\'s client certificate and User-Agent `kubelet/…` (a cached agent).',
      '- **The link**: each side reaches the apiserver through a TCP proxy of its own (bench/cloud-link.ts) that counts the bytes',
      '  crossing it both ways, TLS records and HTTP heads included; the counters are zeroed before a request and read after',
      '  its last byte. The hub\'s own traffic in that window (health checks every second, its filters\' idle watches) is counted too: a few hundred bytes.',
      '- **Hub**: yurthub transpiled to JavaScript, `--health-check-period=1s`, an empty cache; the client → hub hop is plain HTTP on loopback',
      '  and not counted. After each LIST the benchmark waits until the hub process is idle (its cache write).',
      `- **Sequence**: per request, one warm-up per side, then ${ROUNDS} rounds of direct${base ? ', hub before, hub after' : ', hub'}, one request each.`,
      '- **Time** to the last byte is loopback time, where bytes cost nothing and compressing them costs the apiserver (and the hub,',
      '  inflating) CPU. The direct client decrypts TLS in the benchmark\'s own process, which also runs every counting proxy, while',
      '  the hubs decrypt in theirs: compare the hubs\' times with each other, not with direct.',
    );
    if (base) lines.push(`- **Base revision**: \`${base.label}\` (${base.subject}), checked out with \`git worktree add\` and transpiled the same way.`);
    return { markdown: lines.join('\n') };
  } finally {
    await cleanups.run();
  }
}
