/**
 * The doctor's judgements, pure: what was observed in, one finding out (status, evidence, the fix).
 * Gathering (HTTP, the apiserver, host files) lives in node-doctor.ts and cloud-doctor.ts, so every
 * rule here is unit-tested on plain inputs.
 */
import { fail, ok, warn, type Finding } from './finding.js';

/** An HTTP look: the status and body, or why there was no answer. */
export interface Probe {
  status?: number;
  body: string;
  error?: string;
}

export const AGENT_LABEL = 'app.kubernetes.io/name=yurt-tunnel-agent';
export const SERVER_LABEL = 'app.kubernetes.io/name=yurt-tunnel-server';
/** A certificate this close to its end is a warning (kubelet and the hub rotate at ~70–90 % of its life). */
export const CERT_WARN_MS = 7 * 24 * 3600_000;
export const SKEW_WARN_MS = 2_000;
export const SKEW_FAIL_MS = 30_000;

const short = (s: string, n = 160) => (s.length > n ? `${s.slice(0, n)}…` : s).replace(/\s+/g, ' ').trim();
const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
const days = (ms: number) => (Math.abs(ms) >= 48 * 3600_000 ? `${Math.round(ms / 86_400_000)} d` : `${Math.round(ms / 3600_000)} h`);

export const fixes = {
  restartHub: (node: string) => `on ${node}: crictl rm -f $(crictl ps -aq --name yurthub)   # kubelet starts the static pod again`,
  reconvert: (node: string) => `on ${node}: yurtctl node revert --root=/ --node-name=${node}; then from the cloud: yurtctl convert <the same flags> (its Job converts ${node} again)`,
  deleteAgentPod: (node: string) => `kubectl -n kube-system delete pod -l ${AGENT_LABEL} --field-selector spec.nodeName=${node}   # the DaemonSet starts it again`,
  annotate: (node: string) => `kubectl annotate node ${node} node.beta.openyurt.io/autonomy=true --overwrite`,
  restartManager: () => 'kubectl -n kube-system rollout restart deployment/yurt-manager',
  restartTunnelServer: () => 'kubectl -n kube-system rollout restart deployment/yurt-tunnel-server',
  scaleTunnelServer: () => `kubectl -n kube-system scale deployment/yurt-tunnel-server --replicas=2   # the chart's replicaCount; if it was not 0, why its pods do not run: kubectl -n kube-system describe pods -l ${SERVER_LABEL}`,
  egressSelector: () => 'give kube-apiserver --egress-selector-config-file sending the `cluster` egress to the tunnel server (docs/tunnel.md, "Egress selector")',
  syncClock: (node: string) => `on ${node}: timedatectl set-ntp true && chronyc makestep`,
};

/** The hub's liveness from the node: /v1/healthz answers while the process serves. */
export function hubServing(node: string, hubUrl: string, healthz: Probe, manifest: string | undefined): Finding {
  if (healthz.status === 200) return ok('hub', node, `${hubUrl}/v1/healthz: 200 ${short(healthz.body, 40)}`);
  const seen = healthz.error ? `no answer (${short(healthz.error, 80)})` : `${healthz.status} ${short(healthz.body, 80)}`;
  if (!manifest) return fail('hub', node, `${hubUrl}/v1/healthz: ${seen}; no yurthub static pod manifest`, fixes.reconvert(node));
  return fail('hub', node, `${hubUrl}/v1/healthz: ${seen}; manifest ${manifest} is in place`, fixes.restartHub(node));
}

/** /readyz: 200 online or offline-from-cache, 503 while it can serve nothing. */
export function hubReady(node: string, hubUrl: string, readyz: Probe): Finding | undefined {
  if (readyz.error) return undefined; // hubServing reports a hub that does not answer
  const body = short(readyz.body, 120);
  if (readyz.status === 200 && /offline/.test(readyz.body)) return warn('hub-ready', node, `${hubUrl}/readyz: ${body}`, `restore ${node}'s link to the apiserver; the hub's upstream health: curl -s ${hubUrl}/debug/cache`);
  if (readyz.status === 200) return ok('hub-ready', node, `${hubUrl}/readyz: ${body}`);
  return fail('hub-ready', node, `${hubUrl}/readyz: ${readyz.status} ${body}`, `curl -s ${hubUrl}/debug/cache   # which apiserver fails; then restore ${node}'s link to it`);
}

export interface CacheView {
  upstreams?: Array<{ server: string; healthy: boolean; failures?: number; since?: string; lastHealthy?: string }>;
  resources?: Array<{ component: string; resource: string; objects: number; bytes: number; format?: string }>;
}

/**
 * What the hub could serve kubelet offline, per resource, and how old it is. Online, kubelet's
 * watches through the hub keep every resource it cached current; offline, all of them are as old as
 * the last moment an apiserver was healthy (or older than the hub's start if none was since).
 */
export function hubCache(node: string, hubUrl: string, view: CacheView | undefined, error?: string, nowMs = Date.now()): Finding {
  if (!view) return warn('hub-cache', node, `${hubUrl}/debug/cache: ${error ?? 'no answer'}`, fixes.restartHub(node));
  const kubelet = (view.resources ?? []).filter((r) => r.component === 'kubelet');
  const per = kubelet.map((r) => `${r.resource}=${r.objects}`).sort().join(' ');
  const down = (view.upstreams ?? []).filter((u) => !u.healthy);
  const ups = (view.upstreams ?? []).map((u) => `${u.server} ${u.healthy ? 'healthy' : `unhealthy (${u.failures ?? 0} failures)`}`).join(', ');
  const evidence = `kubelet cached: ${per || 'nothing'}; upstreams: ${ups || 'none'}`;
  // A list kubelet made is recorded even when empty (a node without pods): presence is what counts.
  const needed = ['nodes', 'pods'].filter((r) => !kubelet.some((k) => k.resource === r));
  if (needed.length) return warn('hub-cache', node, `${evidence} (no ${needed.join(', ')}: ${node} would not restart its pods offline)`, `check that --cache-agents in /etc/kubernetes/manifests/yurt-hub.yaml on ${node} names kubelet, and that kubelet talks to the hub (check kubelet-wired)`);
  if (down.length && down.length === (view.upstreams ?? []).length) {
    const seen = down.flatMap((u) => (u.lastHealthy ? [Date.parse(u.lastHealthy)] : [])).filter(Number.isFinite);
    const started = down.flatMap((u) => (u.since ? [Date.parse(u.since)] : [])).filter(Number.isFinite);
    const age = seen.length
      ? `current as of ${new Date(Math.max(...seen)).toISOString()} (${ago(nowMs - Math.max(...seen))} ago), when an apiserver was last healthy`
      : started.length
        ? `older than ${new Date(Math.min(...started)).toISOString()} (${ago(nowMs - Math.min(...started))} ago): no apiserver was healthy since the hub started`
        : "as old as the link's loss";
    return warn('hub-cache', node, `${evidence}: served from the cache, ${age}`, `restore ${node}'s link to the apiserver`);
  }
  return ok('hub-cache', node, evidence);
}

/** A certificate's end: expired is a failure, within CERT_WARN_MS a warning, unknown a warning. */
export function certificate(node: string | undefined, what: string, notAfterMs: number | undefined, nowMs: number, fix: string, source: string): Finding {
  const check = `certificate/${what}`;
  if (notAfterMs === undefined || !Number.isFinite(notAfterMs)) return warn(check, node, `${what}: expiry unknown (${source})`, fix);
  const left = notAfterMs - nowMs;
  const when = new Date(notAfterMs).toISOString();
  if (left <= 0) return fail(check, node, `${what}: expired ${when} (${days(-left)} ago; ${source})`, fix);
  if (left < CERT_WARN_MS) return warn(check, node, `${what}: expires ${when} (in ${days(left)}; ${source})`, fix);
  return ok(check, node, `${what}: valid until ${when} (${days(left)} left; ${source})`);
}

export const certFixes = {
  hub: (node: string) => `on ${node}: crictl rm -f $(crictl ps -aq --name yurthub)   # restarted, the hub asks for a new one with its bootstrap token; a CSR left Pending: kubectl get csr`,
  kubelet: (node: string) => `on ${node}: rm /var/lib/kubelet/pki/kubelet-client-current.pem && systemctl restart kubelet   # kubelet bootstraps a new one (kubeadm: join again with kubeadm token create --print-join-command)`,
  agent: (node: string) => `the agent presents kubelet's client certificate: renew kubelet's on ${node} (see certificate/kubelet-client), then ${fixes.deleteAgentPod(node)}`,
};

export interface WiringView {
  layout: string;
  /** Our drop-in (kubeadm, k3s) is in place; undefined for the custom layout (kubelet's file is rewritten). */
  dropIn?: { path: string; present: boolean };
  /** The kubeconfig kubelet reads now and the server it names. */
  kubeconfig: string;
  server: string | undefined;
  /** kubelet's requests the hub proxied (its /metrics); undefined when unknown. */
  kubeletRequests: number | undefined;
}

export function kubeletWired(node: string, hubUrl: string, v: WiringView): Finding {
  const base = `layout ${v.layout}; ${v.kubeconfig}: server ${v.server ?? 'unreadable'}`;
  if (v.dropIn && !v.dropIn.present) return fail('kubelet-wired', node, `${base}, but ${v.dropIn.path} is missing: kubelet reads its original kubeconfig, past the hub`, fixes.reconvert(node));
  if (v.server !== hubUrl) return fail('kubelet-wired', node, `${base}, not the hub at ${hubUrl}`, fixes.reconvert(node));
  if (v.kubeletRequests === 0) return warn('kubelet-wired', node, `${base}, but the hub has proxied no kubelet request since it started`, `on ${node}: systemctl daemon-reload && systemctl restart kubelet`);
  return ok('kubelet-wired', node, `${base}${v.kubeletRequests !== undefined ? `; the hub proxied ${v.kubeletRequests} kubelet requests` : ''}`);
}

/** The agent from its node: /readyz, and a session with each server replica (its sessions gauge). */
export function agentFromNode(node: string, url: string, readyz: Probe, sessions: number | undefined, replicas: number | undefined): Finding {
  if (readyz.error) return fail('agent', node, `${url}/readyz: no answer (${short(readyz.error, 80)}): the tunnel agent is not running`, fixes.deleteAgentPod(node));
  const held = sessions === undefined ? 'sessions unknown' : `${sessions} session(s)${replicas !== undefined ? ` of ${replicas} server replica(s)` : ''}`;
  if (readyz.status !== 200) return fail('agent', node, `${url}/readyz: ${readyz.status} ${short(readyz.body, 80)}; ${held}`, fixes.deleteAgentPod(node));
  if (sessions !== undefined && replicas !== undefined && sessions < replicas) return warn('agent', node, `${held}: some replicas cannot reach ${node}`, fixes.deleteAgentPod(node));
  return ok('agent', node, `${url}/readyz: 200; ${held}`);
}

export interface PodView {
  name: string;
  ready: boolean;
  phase: string;
  restarts: number;
  /** A container's waiting reason (CrashLoopBackOff, ImagePullBackOff, …). */
  waiting?: string;
}

/** The hub from the cloud: the static pod's mirror pod (kubelet probes /readyz), else kubelet's Lease. */
export function hubFromCloud(node: string, mirror: PodView | undefined, nodeReady: boolean, leaseAgeMs: number | undefined): Finding {
  const lease = leaseAgeMs === undefined ? 'no Lease' : `Lease renewed ${secs(leaseAgeMs)} ago`;
  if (mirror?.ready) return ok('hub', node, `mirror pod ${mirror.name} Ready; ${lease}`);
  if (mirror) return fail('hub', node, `mirror pod ${mirror.name} not Ready (${mirror.waiting ?? mirror.phase}, ${mirror.restarts} restarts); ${lease}`, fixes.restartHub(node));
  if (nodeReady) return warn('hub', node, `no yurthub mirror pod (kubelet does not report its static pods, or the hub is not installed); Node Ready, ${lease}`, `yurtctl node doctor on ${node} (the hub's own health)`);
  return fail('hub', node, `no yurthub mirror pod and Node not Ready; ${lease}`, `yurtctl node doctor on ${node}`);
}

/** The agent from the cloud: its DaemonSet pod; a crash-looping one is deleted by --fix. */
export function agentFromCloud(node: string, pod: PodView | undefined, routed?: { ok: boolean; streams: number | undefined }): Finding {
  if (!pod) {
    // An agent run outside the DaemonSet (a systemd unit) has no pod: the tunnel's own evidence then.
    if (routed?.ok && routed.streams) return ok('agent', node, `no ${AGENT_LABEL} pod on ${node}, but the apiserver reached its kubelet through the tunnel`);
    return fail('agent', node, `no ${AGENT_LABEL} pod on ${node}${routed?.ok ? ', and nothing shows the tunnel reached it' : ''}`, `kubectl -n kube-system get daemonset yurt-tunnel-agent   # its nodeSelector must match ${node}`);
  }
  if (pod.ready) return ok('agent', node, `pod ${pod.name} Ready (${pod.restarts} restarts)`);
  const repair = { kind: 'delete-pod' as const, namespace: 'kube-system', name: pod.name };
  return fail('agent', node, `pod ${pod.name} not Ready (${pod.waiting ?? pod.phase}, ${pod.restarts} restarts)`, `kubectl -n kube-system delete pod ${pod.name}`, pod.waiting === 'CrashLoopBackOff' || pod.restarts >= 3 ? repair : undefined);
}

/**
 * The apiserver's road to a node's kubelet: `path` is a request the apiserver serves by calling that
 * kubelet (a pod's log, as `kubectl logs` does, or GET nodes/<node>/proxy/healthz), which takes the
 * egress selector's `cluster` route. `streams` and `agentBytes`: the tunnel servers' streams opened and
 * bytes carried back from agents meanwhile (once, before: `streams`), when
 * their metrics could be read — a success that opened none went past the tunnel.
 */
export function tunnelRoute(node: string, probe: Probe, streams?: number, path = `/api/v1/nodes/${node}/proxy/healthz`, agentBytes?: number, serversRunning = true): Finding {
  if (probe.status === 200) {
    // kube-apiserver keeps its connections to a kubelet alive: a probe may ride one the tunnel opened
    // earlier, which opens no stream but carries the answer's bytes back from the agent.
    if (streams === 0 && agentBytes) return ok('tunnel-route', node, `GET ${path}: 200 through the tunnel (a kept-alive stream: ${agentBytes} bytes from the agents)`);
    if (streams === 0) return warn('tunnel-route', node, `GET ${path}: 200 but no tunnel server opened a stream: the apiserver reaches ${node} directly`, fixes.egressSelector());
    return ok('tunnel-route', node, `GET ${path}: 200${streams ? ` through the tunnel (${streams} stream(s))` : ''}`);
  }
  const text = `${probe.error ?? ''} ${probe.body}`;
  const code = /TUN_ERR_[A-Z_]+/.exec(text)?.[0];
  const seen = `GET ${path}: ${probe.status ?? 'no answer'} ${short(text, 200)}`;
  if (code === 'TUN_ERR_NO_AGENT') return fail('tunnel-route', node, `${seen}: ${code}, no agent of ${node} is connected to the tunnel server`, fixes.deleteAgentPod(node));
  // Nothing in the cluster serves the egress (the Deployment scaled to 0, its pods all failing): a
  // restart would start nothing, and the apiserver's own error cannot tell that from a missing route.
  if (!code && !serversRunning) return fail('tunnel-route', node, `${seen}: the apiserver's egress goes to the tunnel server, but no tunnel server runs to carry it`, fixes.scaleTunnelServer());
  if (code) return fail('tunnel-route', node, `${seen}: ${code} (docs/errors.md)`, code === 'TUN_ERR_TARGET_NOT_ALLOWED' ? `add the port to the agent's --allowed-ports` : code === 'TUN_ERR_DESTINATION_REFUSED' ? `check kube-apiserver's --kubelet-preferred-address-types: the address it dialled is none of ${node}'s` : fixes.restartTunnelServer());
  if (/egress|proxy|CONNECT/i.test(text) && /refused|reset|unreachable|EOF|tls|certificate/i.test(text)) return fail('tunnel-route', node, `${seen}: the apiserver's egress to the tunnel server fails`, fixes.restartTunnelServer());
  return fail('tunnel-route', node, `${seen}: the apiserver does not reach ${node}'s kubelet (not routed through the tunnel?)`, fixes.egressSelector());
}

/**
 * No tunnel server pod Running and none named with --tunnel-metrics: with the apiserver's road to an
 * edge node failing, nothing serves its egress; with the road working, the server may run outside
 * the cluster (a systemd unit), which only --tunnel-metrics shows.
 */
export function noTunnelServer(namespace: string, routeFails: boolean): Finding {
  const seen = `no running ${SERVER_LABEL} pod in ${namespace}`;
  if (routeFails) return fail('tunnel-replicas', undefined, `${seen}, and the apiserver's road to the edge nodes fails: nothing serves its egress`, fixes.scaleTunnelServer());
  return warn('tunnel-replicas', undefined, `${seen} (a tunnel server outside the cluster? its /metrics: --tunnel-metrics URL)`, fixes.scaleTunnelServer());
}

/** Each tunnel server replica's yurt_tunnel_server_agents_connected against the edge nodes. */
export function tunnelReplica(replica: string, agents: number | undefined, edgeNodes: number, error?: string): Finding {
  if (agents === undefined) return warn('tunnel-replicas', undefined, `${replica}: metrics unreadable (${short(error ?? 'no yurt_tunnel_server_agents_connected', 100)})`, `kubectl -n kube-system logs ${replica}`);
  if (agents < edgeNodes) return warn('tunnel-replicas', undefined, `${replica}: ${agents} agent(s) connected of ${edgeNodes} edge node(s)`, `yurtctl doctor -o wide   # the agent findings name the nodes; then delete their agent pods`);
  return ok('tunnel-replicas', undefined, `${replica}: ${agents} agent(s) connected, ${edgeNodes} edge node(s)`);
}

/** `requested`: convert's --autonomy, from its record (undefined: unknown, as on the node). */
export function autonomy(node: string, annotations: Record<string, string>, requested: boolean | undefined): Finding {
  const v = annotations['node.beta.openyurt.io/autonomy'];
  if (v === 'true') return ok('autonomy', node, 'node.beta.openyurt.io/autonomy=true');
  const seen = v === undefined ? 'no node.beta.openyurt.io/autonomy annotation' : `node.beta.openyurt.io/autonomy=${v}`;
  if (requested === false) return ok('autonomy', node, `${seen} (convert ran without --autonomy)`);
  if (requested === undefined) return warn('autonomy', node, `${seen}: pods are evicted when the link drops`, fixes.annotate(node), { kind: 'annotate-autonomy', node });
  return fail('autonomy', node, `${seen}, but convert asked for --autonomy: pods are evicted when the link drops`, fixes.annotate(node), { kind: 'annotate-autonomy', node });
}

export interface LeaseView {
  holder?: string;
  renewTime?: string;
  durationSeconds?: number;
}

/** yurt-manager's leader: its Lease held and renewed within its duration. */
export function managerLeader(lease: LeaseView | undefined, nowMs: number, where: string): Finding {
  if (!lease) return fail('manager-leader', undefined, `no Lease ${where}: yurt-manager is not running (or not electing a leader)`, `kubectl -n kube-system get deployment yurt-manager && ${fixes.restartManager()}`);
  const renewed = lease.renewTime ? Date.parse(lease.renewTime) : NaN;
  const age = nowMs - renewed;
  const limit = (lease.durationSeconds ?? 15) * 1000;
  if (!lease.holder || !Number.isFinite(renewed)) return fail('manager-leader', undefined, `Lease ${where} has no holder`, fixes.restartManager());
  if (age > limit) return fail('manager-leader', undefined, `Lease ${where}: ${lease.holder} last renewed ${secs(age)} ago (duration ${limit / 1000} s): no leader acts`, fixes.restartManager());
  return ok('manager-leader', undefined, `${lease.holder} renewed Lease ${where} ${secs(Math.max(0, age))} ago`);
}

/**
 * The node's clock against the apiserver's Date, from the node: the request left at `sentMs` (node's
 * clock) and its answer came `rttMs` later; Date has whole seconds, so the server's time when it
 * answered lay in [Date, Date + 1 s). Only a difference beyond that window is skew.
 */
export function clockSkewFromNode(node: string, sentMs: number, serverDate: string | undefined, rttMs: number): Finding {
  const server = serverDate ? Date.parse(serverDate) : NaN;
  if (!Number.isFinite(server)) return warn('clock-skew', node, 'the apiserver sent no Date header', `on ${node}: timedatectl status`);
  const skew = sentMs + rttMs < server ? sentMs + rttMs - server : sentMs > server + 1000 ? sentMs - server - 1000 : 0;
  return skewFinding(node, skew, `node ${new Date(sentMs).toISOString()}, apiserver Date ${serverDate}`);
}

/**
 * From the cloud: kubelet writes its Lease's renewTime with its own clock; a renewTime later than the
 * apiserver's Date is the node's clock ahead. Behind cannot be told from a late renewal, so the
 * evidence says how far back it could hide.
 */
export function clockSkewFromLease(node: string, renewTime: string | undefined, serverDate: string | undefined, renewIntervalMs = 10_000): Finding | undefined {
  const renew = renewTime ? Date.parse(renewTime) : NaN;
  const server = serverDate ? Date.parse(serverDate) : NaN;
  if (!Number.isFinite(renew) || !Number.isFinite(server)) return undefined;
  const ahead = renew - (server + 1000);
  if (ahead > 0) return skewFinding(node, ahead, `Lease renewTime ${renewTime} is after the apiserver's Date ${serverDate}`);
  const age = server - renew;
  if (age > 4 * renewIntervalMs) return undefined; // not renewing: node-ready says so; no reading of the clock
  return ok('clock-skew', node, `Lease renewed ${secs(Math.max(0, age))} before the apiserver's Date: not ahead (behind by under ${secs(renewIntervalMs + Math.max(0, age))} at most)`);
}

function skewFinding(node: string, skewMs: number, evidence: string): Finding {
  const s = Math.abs(skewMs);
  const what = `${evidence}: ${s < 1000 ? 'in step' : `${secs(s)} ${skewMs > 0 ? 'ahead' : 'behind'}`}`;
  if (s >= SKEW_FAIL_MS) return fail('clock-skew', node, what, fixes.syncClock(node));
  if (s >= SKEW_WARN_MS) return warn('clock-skew', node, what, fixes.syncClock(node));
  return ok('clock-skew', node, what);
}

/** Node Ready and its Lease, from the cloud. */
export function nodeReady(node: string, ready: boolean, reason: string, leaseAgeMs: number | undefined): Finding {
  const lease = leaseAgeMs === undefined ? 'no Lease' : `Lease renewed ${secs(leaseAgeMs)} ago`;
  if (ready) return ok('node-ready', node, `Ready; ${lease}`);
  return fail('node-ready', node, `not Ready${reason ? ` (${reason})` : ''}; ${lease}`, `yurtctl node doctor on ${node}`);
}

export interface JobView {
  namespace: string;
  name: string;
  active: number;
  succeeded: number;
  failed: number;
}

/**
 * The node side's own report (yurt-edge.io/conversion-state, written through the hub) and its node
 * Job. A failed node side left its node as it was (it rolls back), so running its Job again is safe:
 * --fix does that.
 */
export function conversion(node: string, state: string | undefined, job: JobView | undefined): Finding {
  const s = `yurt-edge.io/conversion-state=${state || '(none)'}`;
  const j = job ? `; Job ${job.namespace}/${job.name}: ${job.active} active, ${job.succeeded} succeeded, ${job.failed} failed` : '';
  if (state === 'converted') return ok('conversion', node, `${s}${j}`);
  if (job && job.active > 0) return warn('conversion', node, `${s}${j}: the node side is running`, `kubectl -n ${job.namespace} logs -f job/${job.name}`);
  if (state === 'failed' && job && job.failed > 0) {
    return fail('conversion', node, `${s}${j}: the node side failed and rolled back`, `kubectl -n ${job.namespace} logs job/${job.name}   # why; then yurtctl doctor --fix runs the Job again`, { kind: 'rerun-job', namespace: job.namespace, name: job.name });
  }
  return fail('conversion', node, `${s}${j}: labelled an edge node but not converted`, 'yurtctl convert <the same flags>   # creates its node Job');
}

/** A duration as an operator reads it: 45s, 12m, 3h20m, 2d4h. */
function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  return `${Math.floor(h / 24)}d${h % 24 ? `${h % 24}h` : ''}`;
}
