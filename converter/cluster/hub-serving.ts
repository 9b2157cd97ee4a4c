/**
 * Approves the serving certificates edge nodes request for yurthub's TLS listener (the node side's
 * converter/node/hub-address.ts), while `yurtctl convert` waits for those nodes. Kubernetes approves
 * no kubelet-serving request by itself (kube-controller-manager signs it once someone has), and
 * OpenYurt leaves it to a controller; yurtctl does it for the nodes it converts, and only for
 * requests that cannot be turned into more than they are:
 *   - signer kubernetes.io/kubelet-serving, asked by system:node:<node> for a node of this run, named
 *     yurthub-serving-<node>-…, not decided yet;
 *   - subject exactly O=system:nodes, CN=system:node:<node>;
 *   - IP addresses only, each link-local (169.254.0.0/16: reachable on the node alone), no DNS names,
 *     e-mails or URIs; usages within digital signature, key encipherment, server auth.
 * Anything else is left pending for a person.
 */
import * as k8s from '@kubernetes/client-node';
import { NODES_GROUP, nodeUser } from '../../lib/certificate/csr.js';
import { x509 } from '../../lib/certificate/x509.js';
import { SERVING_CSR_PREFIX, SERVING_SIGNER } from '../node/hub-address.js';
import { call, type Kube } from './kube.js';

const ALLOWED_USAGES = new Set(['digital signature', 'key encipherment', 'server auth']);

export interface CsrView {
  name: string;
  signerName: string;
  username: string;
  usages: string[];
  /** PEM of the request. */
  request: string;
  decided: boolean;
}

/** Why a request is not one yurtctl approves for `node` (undefined: approve it). */
export function servingRequestProblem(csr: CsrView, node: string): string | undefined {
  if (!csr.name.startsWith(`${SERVING_CSR_PREFIX}${node}-`)) return 'not named for this node';
  if (csr.decided) return 'already decided';
  if (csr.signerName !== SERVING_SIGNER) return `signer ${csr.signerName}`;
  if (csr.username !== nodeUser(node)) return `requested by ${csr.username}, not ${nodeUser(node)}`;
  if (csr.usages.some((u) => !ALLOWED_USAGES.has(u)) || !csr.usages.includes('server auth')) return `usages ${csr.usages.join(', ')}`;
  let req: x509.Pkcs10CertificateRequest;
  try {
    req = new x509.Pkcs10CertificateRequest(csr.request);
  } catch {
    return 'the request does not parse';
  }
  const subject = req.subjectName.toJSON();
  const o = subject.flatMap((rdn) => rdn.O ?? []);
  const cn = subject.flatMap((rdn) => rdn.CN ?? []);
  const others = subject.flatMap((rdn) => Object.keys(rdn).filter((k) => k !== 'O' && k !== 'CN'));
  if (o.length !== 1 || o[0] !== NODES_GROUP || cn.length !== 1 || cn[0] !== nodeUser(node) || others.length) return `subject ${req.subject}`;
  const san = req.extensions.find((e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension);
  const names = san?.names.items ?? [];
  if (!names.length) return 'no address';
  for (const n of names) {
    if (n.type !== 'ip' || !/^169\.254\.\d+\.\d+$/.test(n.value)) return `subject alternative name ${n.type}:${n.value} (only link-local IP addresses)`;
  }
  return undefined;
}

function view(csr: k8s.V1CertificateSigningRequest): CsrView {
  const raw = csr.spec.request as unknown;
  return {
    name: csr.metadata?.name ?? '',
    signerName: csr.spec.signerName,
    username: csr.spec.username ?? '',
    usages: csr.spec.usages ?? [],
    request: typeof raw === 'string' ? Buffer.from(raw, 'base64').toString('utf8') : '',
    decided: (csr.status?.conditions ?? []).some((c) => ['Approved', 'Denied', 'Failed'].includes(c.type)),
  };
}

/** Approves the pending hub serving requests of these nodes; returns the names approved. */
export async function approveHubServing(kube: Kube, nodes: string[]): Promise<string[]> {
  if (!nodes.length) return [];
  const certs = kube.kc.makeApiClient(k8s.CertificatesV1Api);
  const list = await call(kube, 'list CertificateSigningRequests', () => certs.listCertificateSigningRequest({ fieldSelector: `spec.signerName=${SERVING_SIGNER}` }));
  const approved: string[] = [];
  for (const csr of list.items) {
    const v = view(csr);
    const node = nodes.find((n) => v.name.startsWith(`${SERVING_CSR_PREFIX}${n}-`));
    if (!node || servingRequestProblem(v, node)) continue;
    const conditions = [...(csr.status?.conditions ?? []), {
      type: 'Approved', status: 'True', reason: 'YurtctlConvert', message: `yurtctl convert: yurthub's serving certificate for its TLS listener on ${node}`, lastUpdateTime: new Date(),
    }];
    await call(kube, `approve CertificateSigningRequest ${v.name}`, () => certs.replaceCertificateSigningRequestApproval({ name: v.name, body: { ...csr, status: { ...csr.status, conditions } } }));
    approved.push(v.name);
  }
  return approved;
}

/**
 * Revert: the nodes' hub serving requests go with the rest (kube-controller-manager would collect issued
 * ones after an hour, pending ones after a day). Only requests named for these nodes and asked by them.
 */
export async function deleteHubServing(kube: Kube, nodes: string[]): Promise<string[]> {
  if (!nodes.length) return [];
  const certs = kube.kc.makeApiClient(k8s.CertificatesV1Api);
  const list = await call(kube, 'list CertificateSigningRequests', () => certs.listCertificateSigningRequest({ fieldSelector: `spec.signerName=${SERVING_SIGNER}` }));
  const deleted: string[] = [];
  for (const csr of list.items) {
    const v = view(csr);
    if (!nodes.some((n) => v.name.startsWith(`${SERVING_CSR_PREFIX}${n}-`) && v.username === nodeUser(n))) continue;
    await call(kube, `delete CertificateSigningRequest ${v.name}`, () => certs.deleteCertificateSigningRequest({ name: v.name }));
    deleted.push(v.name);
  }
  return deleted;
}
