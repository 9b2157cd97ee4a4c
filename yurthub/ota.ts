/**
 * OpenYurt's OTA API on the hub's local port, for DaemonSets whose update strategy is OTA (yurt-manager's
 * daemonpodupdater marks their old pods with the PodNeedUpgrade condition and never deletes them):
 *   GET  /pods                                               this node's pods, from the cache (offline too)
 *   POST /openyurt.io/v1/namespaces/{ns}/pods/{name}/upgrade when the apiserver's copy says PodNeedUpgrade=True:
 *        a DaemonSet pod is deleted, as the node; the DaemonSet controller recreates it at the new revision.
 *        A static pod's mirror pod (a YurtStaticSet's, `<set>-<node>`): the manifest in the ConfigMap
 *        yurt-static-set-<set>, read as the node, is written into --static-pod-dir (lib/static-pod.ts:
 *        checked, the old one kept as a dot-file, one rename); kubelet restarts the static pod.
 * Served on the plain local port only, never on the in-cluster listener: a pod must not be able to
 * delete its neighbours with the node's identity. Every refusal is a Kubernetes Status.
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from '../lib/logger.js';
import { decodeUnknown, hasProtobufMagic, readNestedBytes, readNestedString, readObjectMeta } from '../lib/kube/protobuf.js';
import { ProtoReader, WireType } from '../lib/kube/protobuf-wire.js';
import { parseRequestInfo } from '../lib/kube/request-info.js';
import { badRequest, forbidden, internalError, methodNotSupported, notFound, serviceUnavailable, type Status } from '../lib/kube/status.js';
import { installManifest, STATIC_POD_HASH_ANNOTATION, staticSetConfigMap, StaticPodManifestError } from '../lib/static-pod.js';
import { CacheReader } from './cache/reader.js';
import { YurthubErrors } from './errors.js';
import type { Upstreams } from './health/upstreams.js';
import { writeStatus } from './proxy/respond.js';
import type { CacheStore } from './store/store.js';
import type { UpstreamAgents } from './upstream-agents.js';

export const POD_NEED_UPGRADE = 'PodNeedUpgrade';
const UPGRADE_PATH = /^\/openyurt\.io\/v1\/namespaces\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/pods\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)\/upgrade$/;
const PODS = { group: '', resource: 'pods' };

export interface OtaOptions {
  nodeName: string;
  /** kubelet's static pod folder, for YurtStaticSet pods. */
  staticPodDir: string;
  store: CacheStore;
  upstreams: Upstreams;
  identity: UpstreamAgents;
  timeoutMs: number;
  logger: Logger;
}

/** The hub's own routes beside the proxy (server.ts asks `owns` first). */
export interface LocalRoutes {
  owns(path: string): boolean;
  handle(path: string, req: IncomingMessage, res: ServerResponse): Promise<void>;
}

interface PodView {
  metadata?: { name?: string; namespace?: string; uid?: string; deletionTimestamp?: string; annotations?: Record<string, string>; ownerReferences?: Array<{ kind?: string; controller?: boolean }> };
  spec?: { nodeName?: string };
  status?: { conditions?: Array<{ type?: string; status?: string }> };
}

export function otaRoutes(options: OtaOptions): LocalRoutes {
  const log = options.logger.child({ component: 'ota' });
  const reader = new CacheReader(options.store);
  const json = (res: ServerResponse, code: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-cache, private' });
    res.end(text);
  };

  async function pods(res: ServerResponse): Promise<void> {
    // kubelet's own list of its pods (spec.nodeName=<node>), as it cached it: JSON or protobuf.
    const query = new URLSearchParams({ fieldSelector: `spec.nodeName=${options.nodeName}` });
    const found = await reader.list('kubelet', parseRequestInfo('GET', `/api/v1/pods?${query}`), query, ['json', 'protobuf']);
    if (found.kind !== 'found') return writeStatus(res, undefined, serviceUnavailable(`no pods of node ${options.nodeName} are cached yet (kubelet has not listed its pods through this hub)`));
    const items = found.value.items.map((data) => (found.value.format === 'json' ? (JSON.parse(new TextDecoder().decode(data)) as unknown) : podSummary(data)));
    json(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: found.value.resourceVersion }, items });
  }

  async function upgrade(namespace: string, name: string, res: ServerResponse): Promise<void> {
    const path = `/api/v1/namespaces/${namespace}/pods/${name}`;
    const current = await apiserver(options, 'GET', path);
    if (current.code === 404) return writeStatus(res, undefined, notFound(PODS, name));
    if (current.code !== 200) return relay(res, current, log, `${namespace}/${name}`);
    const pod = JSON.parse(current.body) as PodView;
    if (pod.spec?.nodeName !== options.nodeName) {
      return writeStatus(res, undefined, forbidden(PODS, name, `the pod runs on ${pod.spec?.nodeName ? `node ${pod.spec.nodeName}` : 'no node'}, not on ${options.nodeName}: only its own node's hub upgrades it`));
    }
    if (pod.metadata?.deletionTimestamp) return writeStatus(res, undefined, forbidden(PODS, name, 'the pod is being deleted already'));
    const owner = pod.metadata?.ownerReferences?.find((o) => o.controller)?.kind;
    const mirror = pod.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined;
    if (owner !== 'DaemonSet' && !mirror) return writeStatus(res, undefined, badRequest(`pod ${namespace}/${name} is owned by ${owner ? `a ${owner}` : 'nothing'}: only DaemonSet pods and YurtStaticSet static pods are upgraded through OTA`));
    const condition = pod.status?.conditions?.find((c) => c.type === POD_NEED_UPGRADE);
    if (condition?.status !== 'True') {
      return writeStatus(res, undefined, forbidden(PODS, name, `the pod is not upgradable: its ${POD_NEED_UPGRADE} condition is ${condition ? condition.status : 'absent'} (set to True by yurt-manager for OTA DaemonSets and YurtStaticSets with a newer template)`));
    }
    if (mirror) return staticPod(namespace, name, res);
    const uid = pod.metadata?.uid ?? '';
    // The UID precondition: a pod recreated under the same name meanwhile is not the one that was asked about.
    const deleted = await apiserver(options, 'DELETE', path, JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid } }));
    if (deleted.code !== 200 && deleted.code !== 202) return relay(res, deleted, log, `${namespace}/${name}`);
    log.info({ pod: `${namespace}/${name}`, uid }, 'OTA: pod deleted for upgrade; its DaemonSet recreates it at the new revision');
    json(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', message: `pod ${namespace}/${name} is being upgraded (deleted; its DaemonSet recreates it)`, details: { name, kind: 'pods', uid }, code: 200 });
  }

  /** A YurtStaticSet's static pod: its ConfigMap's manifest into the static pod folder; kubelet does the rest. */
  async function staticPod(namespace: string, name: string, res: ServerResponse): Promise<void> {
    const suffix = `-${options.nodeName}`;
    const set = name.endsWith(suffix) ? name.slice(0, -suffix.length) : '';
    if (!set) return writeStatus(res, undefined, badRequest(`static pod ${namespace}/${name} is not named <set>-${options.nodeName}`));
    const cm = await apiserver(options, 'GET', `/api/v1/namespaces/${namespace}/configmaps/${staticSetConfigMap(set)}`);
    if (cm.code === 404) return writeStatus(res, undefined, badRequest(`static pod ${namespace}/${name} belongs to no YurtStaticSet (no ConfigMap ${namespace}/${staticSetConfigMap(set)})`));
    if (cm.code !== 200) return relay(res, cm, log, `${namespace}/${name}`);
    const map = JSON.parse(cm.body) as { metadata?: { annotations?: Record<string, string> }; data?: Record<string, string> };
    const entries = Object.entries(map.data ?? {});
    const hash = map.metadata?.annotations?.[STATIC_POD_HASH_ANNOTATION];
    if (entries.length !== 1 || !hash) return writeStatus(res, undefined, internalError(new Error(`ConfigMap ${namespace}/${staticSetConfigMap(set)} holds ${entries.length} manifests and ${hash ? 'a' : 'no'} hash: it is yurt-manager's, one manifest with its hash`)));
    const [manifest, text] = entries[0]!;
    let done;
    try {
      done = await installManifest(options.staticPodDir, manifest, text, hash);
    } catch (err) {
      const why = err instanceof StaticPodManifestError ? err.message : `${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`.trim();
      log.warn({ pod: `${namespace}/${name}`, code: 'YH_ERR_OTA' }, YurthubErrors.YH_ERR_OTA(`${namespace}/${name}`, `manifest ${manifest} not installed: ${why}`).message);
      return writeStatus(res, undefined, internalError(new Error(`manifest ${manifest} not installed in ${options.staticPodDir}: ${why}; the node keeps its current one`)));
    }
    log.info({ pod: `${namespace}/${name}`, path: done.path, hash, changed: done.changed }, 'OTA: static pod manifest installed; kubelet restarts the static pod');
    json(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', message: `static pod ${namespace}/${name} is being upgraded (${done.path} ${done.changed ? 'replaced' : 'was already current'}; kubelet restarts it)`, details: { name, kind: 'pods' }, code: 200 });
  }

  return {
    owns: (path) => path === '/pods' || path.startsWith('/openyurt.io/'),
    async handle(path, req, res) {
      try {
        if (path === '/pods') {
          if (req.method !== 'GET' && req.method !== 'HEAD') return writeStatus(res, undefined, methodNotSupported(PODS, req.method ?? ''));
          return await pods(res);
        }
        const m = UPGRADE_PATH.exec(path);
        if (!m) return writeStatus(res, undefined, notFound({ group: 'openyurt.io', resource: 'paths' }, path));
        if (req.method !== 'POST') return writeStatus(res, undefined, methodNotSupported(PODS, req.method ?? ''));
        req.resume();
        return await upgrade(m[1]!, m[3]!, res);
      } catch (err) {
        log.warn({ err, path, code: 'YH_ERR_OTA' }, YurthubErrors.YH_ERR_OTA(path, (err as Error).message).message);
        writeStatus(res, undefined, internalError(err));
      }
    },
  };
}

interface Answer {
  code: number;
  body: string;
}

/** One request to a healthy apiserver as the node (its certificate or token), or 503 when none is healthy. */
async function apiserver(options: OtaOptions, method: string, path: string, body?: string): Promise<Answer> {
  const upstream = options.upstreams.pick();
  if (!upstream) return { code: 503, body: JSON.stringify(serviceUnavailable('no apiserver is reachable from this node: an upgrade deletes the pod through the apiserver; ask again once the node is online')) };
  const url = new URL(path, upstream.url);
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'yurthub-ota' };
  const auth = options.identity.authorization();
  if (auth) headers.authorization = auth;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  return new Promise<Answer>((resolve) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method, headers, agent: options.identity.agent(url, false), timeout: options.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ code: res.statusCode ?? 502, body: Buffer.concat(chunks).toString() }));
      res.on('error', (err) => resolve({ code: 503, body: JSON.stringify(serviceUnavailable(`apiserver ${url.origin}: ${err.message}`)) }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', (err) => resolve({ code: 503, body: JSON.stringify(serviceUnavailable(`apiserver ${url.origin}: ${err.message}`)) }));
    req.end(body);
  });
}

/** Passes the apiserver's (or our own 503's) Status on, logged: RBAC or the Node authorizer said no, or no answer. */
function relay(res: ServerResponse, answer: Answer, log: Logger, pod: string): void {
  let status: Status;
  try {
    status = JSON.parse(answer.body) as Status;
    if (status.kind !== 'Status') throw new Error('not a Status');
  } catch {
    status = { ...internalError(new Error(answer.body.slice(0, 200))), code: answer.code };
  }
  log.warn({ pod, status: answer.code, code: 'YH_ERR_OTA' }, YurthubErrors.YH_ERR_OTA(pod, `${answer.code} ${status.message ?? ''}`).message);
  writeStatus(res, undefined, status);
}

/**
 * A protobuf-cached pod as JSON: what the OTA API needs (metadata, node, phase, conditions). The rest
 * of a Pod cannot be read without its schema; a client wanting all of it asks the apiserver.
 */
export function podSummary(data: Uint8Array): Record<string, unknown> {
  const raw = hasProtobufMagic(data) ? decodeUnknown(data).raw : data;
  const meta = readObjectMeta(raw);
  const conditions: Array<{ type: string; status: string; reason?: string; message?: string }> = [];
  const status = readNestedBytes(raw, [3]);
  if (status) {
    // PodStatus{conditions=2}; PodCondition{type=1, status=2, reason=5, message=6}.
    const r = new ProtoReader(status);
    while (!r.done) {
      const t = r.tag();
      if (t.field !== 2 || t.wire !== WireType.LengthDelimited) {
        r.skip(t.wire, t.field);
        continue;
      }
      const c = r.bytes();
      const reason = readNestedString(c, [5]);
      const message = readNestedString(c, [6]);
      conditions.push({ type: readNestedString(c, [1]) ?? '', status: readNestedString(c, [2]) ?? '', ...(reason ? { reason } : {}), ...(message ? { message } : {}) });
    }
  }
  return {
    metadata: { name: meta.name, namespace: meta.namespace, uid: meta.uid, resourceVersion: meta.resourceVersion, labels: { ...meta.labels }, ...(meta.deletionTimestamp ? { deletionTimestamp: meta.deletionTimestamp } : {}) },
    spec: { nodeName: readNestedString(raw, [2, 10]) ?? '' },
    status: { phase: readNestedString(raw, [3, 1]) ?? '', conditions },
  };
}
