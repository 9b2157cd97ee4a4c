/**
 * Cloud-side backends for the egress-for-everything suite: HTTPS servers a test process runs on a
 * loopback address standing in for a Service's ClusterIP (the harness apiserver gets a loopback
 * --service-cluster-ip-range, and no kube-proxy is needed when the backend listens on the ClusterIP
 * itself). kube-apiserver reaches them by CONNECT through the tunnel server, which dials them
 * directly because they are inside --service-cidr. Tests only.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Pem } from '../../../tunnel/testing/pki.js';

export interface Backend {
  readonly ip: string;
  readonly port: number;
  /** Requests served, by path. */
  readonly requests: Map<string, number>;
  close(): Promise<void>;
}

async function serve(ip: string, port: number, pem: Pem, handle: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<Backend> {
  const requests = new Map<string, number>();
  const server: Server = createServer({ cert: pem.cert, key: pem.key }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.set(path, (requests.get(path) ?? 0) + 1);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => handle(req, body, res));
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, ip, () => resolve()));
  return {
    ip,
    port: (server.address() as AddressInfo).port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

export const DENY_LABEL = 'egress-e2e/deny';

/**
 * A validating admission webhook at POST /validate: denies objects labelled `egress-e2e/deny`,
 * admits everything else.
 */
export function admissionWebhook(ip: string, port: number, pem: Pem): Promise<Backend> {
  return serve(ip, port, pem, (req, body, res) => {
    if (req.method !== 'POST' || !req.url?.startsWith('/validate')) return json(res, 404, { error: 'not found' });
    let review: { request?: { uid?: string; object?: { metadata?: { name?: string; labels?: Record<string, string> } } } };
    try {
      review = JSON.parse(body) as typeof review;
    } catch {
      return json(res, 400, { error: 'not an AdmissionReview' });
    }
    const meta = review.request?.object?.metadata;
    const deny = meta?.labels?.[DENY_LABEL] !== undefined;
    json(res, 200, {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: deny
        ? { uid: review.request?.uid, allowed: false, status: { code: 403, message: `egress-e2e webhook denies ${meta?.name}: it carries ${DENY_LABEL}` } }
        : { uid: review.request?.uid, allowed: true },
    });
  });
}

export const PROBE_GROUP = 'egress.e2e.yurt-edge.io';
export const PROBE_VERSION = 'v1alpha1';

/**
 * The smallest aggregated API server the aggregator accepts: discovery for one group version with
 * one cluster-scoped, read-only resource (`probes`), and a list of it.
 */
export function aggregatedApi(ip: string, port: number, pem: Pem, items: string[]): Promise<Backend> {
  const gv = `${PROBE_GROUP}/${PROBE_VERSION}`;
  return serve(ip, port, pem, (req, _body, res) => {
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/$/, '');
    if (req.method !== 'GET') return json(res, 405, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 405 });
    if (path === `/apis/${gv}`) {
      return json(res, 200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: gv,
        resources: [{ name: 'probes', singularName: 'probe', namespaced: false, kind: 'Probe', verbs: ['get', 'list'] }],
      });
    }
    if (path === `/apis/${gv}/probes`) {
      return json(res, 200, {
        kind: 'ProbeList',
        apiVersion: gv,
        metadata: { resourceVersion: '1' },
        items: items.map((name) => ({ kind: 'Probe', apiVersion: gv, metadata: { name, resourceVersion: '1' } })),
      });
    }
    if (path === `/apis/${PROBE_GROUP}`) {
      return json(res, 200, { kind: 'APIGroup', apiVersion: 'v1', name: PROBE_GROUP, versions: [{ groupVersion: gv, version: PROBE_VERSION }], preferredVersion: { groupVersion: gv, version: PROBE_VERSION } });
    }
    json(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${path} not found` });
  });
}
