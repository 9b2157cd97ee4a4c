/**
 * The few API calls the node side makes, with the node's own identity: through yurthub's plain port
 * (the hub adds the node's credentials), or straight to the apiserver with kubelet's credentials
 * (before the hub exists, and after revert). Both answer the same questions: is kubelet Ready and
 * renewing its Lease, and "record this node's conversion state".
 */
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { parseMetrics, series, total } from '../../lib/metrics/exposition.js';
import { ANNOTATION_STATE, type NodeState } from '../plan/model.js';
import type { HostFs } from './hostfs.js';
import type { KubeconfigView } from './kubeconfig.js';

export interface Readiness {
  ready: boolean;
  why: string;
}

export interface NodeApi {
  readonly describe: string;
  readiness(node: string, since: Date): Promise<Readiness>;
  /** yurthub only: which hub process answers (its process_start_time_seconds; undefined: not exposed), to tell a restarted hub from the old one. */
  hubIdentity?(): Promise<string | undefined>;
  /** yurthub only: how many kubelet requests it has proxied (its /metrics), to see kubelet really uses it. */
  kubeletRequests?(): Promise<number>;
  /** yurthub only: how many requests of a component (User-Agent's first token) it has proxied. */
  componentRequests?(component: string): Promise<number>;
  /** Sets the state annotation, and `also` (e.g. the hub manifest hash; null removes one) in the same patch. */
  reportState(node: string, state: NodeState, also?: Record<string, string | null>): Promise<void>;
  readConfigMap(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** Deletes the pods of this node that match a label selector in a namespace (their controller makes them anew); returns their names. */
  deleteNodePods?(node: string, namespace: string, selector: string): Promise<string[]>;
  /** Direct only: creates a CertificateSigningRequest as the node (the hub's serving certificate). */
  requestCertificate?(name: string, csrPem: string, signerName: string, usages: string[]): Promise<void>;
  /** Direct only: the issued certificate (PEM) of a CertificateSigningRequest, or why it was denied. */
  issuedCertificate?(name: string): Promise<{ certificate?: string; denied?: string }>;
}

const TIMEOUT_MS = 10_000;
const UA = 'yurtctl-node';

interface NodeObj {
  status?: { conditions?: Array<{ type?: string; status?: string; reason?: string }> };
}
interface LeaseObj {
  spec?: { renewTime?: string };
}

function judge(node: NodeObj | undefined, lease: LeaseObj | undefined, since: Date): Readiness {
  const ready = node?.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') return { ready: false, why: `node Ready is ${ready?.status ?? 'missing'}${ready?.reason ? ` (${ready.reason})` : ''}` };
  const renew = lease?.spec?.renewTime ? new Date(lease.spec.renewTime) : undefined;
  if (!renew || renew.getTime() <= since.getTime()) return { ready: false, why: `kubelet has not renewed its Lease since the restart (last ${renew?.toISOString() ?? 'never'})` };
  return { ready: true, why: `Ready, Lease renewed ${renew.toISOString()}` };
}

/** Sums yurthub_proxy_requests_total over the series of component "kubelet" (Prometheus text format). */
export function kubeletRequestCount(metrics: string): number {
  return componentRequestCount(metrics, 'kubelet');
}

/** Sums yurthub_proxy_requests_total over the series of one component. */
export function componentRequestCount(metrics: string, component: string): number {
  return total(parseMetrics(metrics), 'yurthub_proxy_requests_total', { component }) ?? 0;
}

/** The process start time a Prometheus text exposition gives (prom-client's and client_golang's standard gauge). */
export function processStart(metrics: string): string | undefined {
  const start = series(parseMetrics(metrics), 'process_start_time_seconds')[0];
  return start === undefined ? undefined : String(start.value);
}

/** Through yurthub's local port: no credentials of ours, the hub speaks for the node. */
export function hubApi(hubUrl: string): NodeApi {
  const call = async (method: string, path: string, body?: unknown, contentType?: string) => {
    const res = await fetch(`${hubUrl}${path}`, {
      method,
      headers: { 'user-agent': UA, accept: 'application/json', ...(contentType ? { 'content-type': contentType } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} through the hub: ${res.status} ${text.slice(0, 200)}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  };
  const requests = async (component: string) => {
    const res = await fetch(`${hubUrl}/metrics`, { headers: { 'user-agent': UA }, signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
    return componentRequestCount(await res.text(), component);
  };
  return {
    describe: `yurthub at ${hubUrl}`,
    async readiness(node, since) {
      try {
        const n = (await call('GET', `/api/v1/nodes/${encodeURIComponent(node)}`)) as NodeObj;
        const l = (await call('GET', `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${encodeURIComponent(node)}`)) as LeaseObj;
        return judge(n, l, since);
      } catch (err) {
        return { ready: false, why: (err as Error).message };
      }
    },
    async hubIdentity() {
      const res = await fetch(`${hubUrl}/metrics`, { headers: { 'user-agent': UA }, signal: AbortSignal.timeout(TIMEOUT_MS) });
      if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
      return processStart(await res.text());
    },
    kubeletRequests: () => requests('kubelet'),
    componentRequests: requests,
    async reportState(node, state, also = {}) {
      await call('PATCH', `/api/v1/nodes/${encodeURIComponent(node)}`, { metadata: { annotations: { ...also, [ANNOTATION_STATE]: state } } }, 'application/merge-patch+json');
    },
    async readConfigMap(namespace, name) {
      const cm = (await call('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(name)}`)) as { data?: Record<string, string> };
      return cm.data;
    },
    async deleteNodePods(node, namespace, selector) {
      const q = new URLSearchParams({ labelSelector: selector, fieldSelector: `spec.nodeName=${node}` });
      const list = (await call('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods?${q}`)) as { items?: Array<{ metadata?: { name?: string } }> };
      const names = (list.items ?? []).map((p) => p.metadata?.name ?? '').filter(Boolean);
      for (const name of names) await call('DELETE', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`);
      return names;
    },
  };
}

/**
 * Reads a file a host kubeconfig names: under the root first (the host's view), else as given — a test
 * tree whose kubeconfig names files outside it (a hollow node's certificates).
 */
function readHostFile(fs: HostFs, path: string): Buffer {
  try {
    return readFileSync(fs.resolve(path));
  } catch {
    return readFileSync(path);
  }
}

/** Straight to the apiserver with kubelet's credentials (as kubelet's kubeconfig names them). */
export function directApi(fs: HostFs, view: KubeconfigView): NodeApi {
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const data = (inline: unknown, file: unknown) => str(inline) ?? (str(file) ? readHostFile(fs, str(file)!).toString('base64') : undefined);
  const kc = new k8s.KubeConfig();
  const cluster = { name: 'node', server: view.server, caData: data(view.cluster['certificate-authority-data'], view.cluster['certificate-authority']), skipTLSVerify: view.cluster['insecure-skip-tls-verify'] === true };
  const user = {
    name: 'node',
    certData: data(view.user['client-certificate-data'], view.user['client-certificate']),
    keyData: data(view.user['client-key-data'], view.user['client-key']),
    token: str(view.user.token) ?? (str(view.user.tokenFile) ? readHostFile(fs, str(view.user.tokenFile)!).toString('utf8').trim() : undefined),
  };
  kc.loadFromOptions({ clusters: [cluster], users: [user], contexts: [{ name: 'node', cluster: 'node', user: 'node' }], currentContext: 'node' });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const coord = kc.makeApiClient(k8s.CoordinationV1Api);
  const certs = kc.makeApiClient(k8s.CertificatesV1Api);
  return {
    describe: `the apiserver at ${view.server}`,
    async readiness(node, since) {
      try {
        const [n, l] = await Promise.all([core.readNode({ name: node }), coord.readNamespacedLease({ name: node, namespace: 'kube-node-lease' })]);
        return judge(n as NodeObj, { spec: { renewTime: l.spec?.renewTime ? new Date(l.spec.renewTime as unknown as string).toISOString() : undefined } }, since);
      } catch (err) {
        return { ready: false, why: (err as Error).message.split('\n')[0]! };
      }
    },
    async reportState(node, state, also = {}) {
      await core.patchNode(
        { name: node, body: { metadata: { annotations: { ...also, [ANNOTATION_STATE]: state } } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    },
    async readConfigMap(namespace, name) {
      return (await core.readNamespacedConfigMap({ name, namespace })).data;
    },
    async deleteNodePods(node, namespace, selector) {
      const list = await core.listNamespacedPod({ namespace, labelSelector: selector, fieldSelector: `spec.nodeName=${node}` });
      const names = list.items.map((p) => p.metadata?.name ?? '').filter(Boolean);
      for (const name of names) await core.deleteNamespacedPod({ name, namespace });
      return names;
    },
    async requestCertificate(name, csrPem, signerName, usages) {
      await certs.createCertificateSigningRequest({
        body: { apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest', metadata: { name }, spec: { request: Buffer.from(csrPem).toString('base64'), signerName, usages } },
      });
    },
    async issuedCertificate(name) {
      const csr = await certs.readCertificateSigningRequest({ name });
      const denied = csr.status?.conditions?.find((c) => (c.type === 'Denied' || c.type === 'Failed') && c.status === 'True');
      if (denied) return { denied: `${denied.type}: ${denied.reason ?? ''} ${denied.message ?? ''}`.trim() };
      const cert = csr.status?.certificate as unknown;
      if (!cert) return {};
      // client-node hands the base64 field over as a string (or, in some versions, as bytes).
      return { certificate: typeof cert === 'string' ? Buffer.from(cert, 'base64').toString('utf8') : Buffer.from(cert as Uint8Array).toString('utf8') };
    },
  };
}
