/**
 * Which cluster a cache belongs to, and whether it may be served to this hub's clients.
 *
 * A cache is one cluster's: a node re-joined to another cluster that kept its cache folder would
 * otherwise answer kubelet offline with the old cluster's pods. Two facts identify the cluster:
 * - the CA certificates the hub trusts for its apiservers (`--ca-file`, or the kubeconfig's CA). The
 *   hub knows them even offline, so a cache recorded under other CAs is known to be foreign at start.
 *   A CA rotation done the Kubernetes way passes through a bundle holding old and new CA: the cache
 *   stays valid as long as the configured and recorded sets share one certificate, and the record
 *   follows the bundle once the cluster is confirmed. A CA replaced without such a bundle looks
 *   exactly like another cluster, and is treated as one.
 * - the UID of the `default/kubernetes` Service, learnt at the first contact. It survives an
 *   apiserver address change and an etcd restore, not a re-join (a new cluster makes a new Service).
 *   It stands in for the kube-system namespace UID, the usual cluster ID, because the Node
 *   authorizer lets a node read Services but not Namespaces.
 * The record is a small JSON value under a reserved key of the cache itself, so it always moves
 * (and is lost) together with the data it vouches for.
 */
import { X509Certificate } from 'node:crypto';

/** Where the cluster UID is read from, with the node's own credentials. */
export const CLUSTER_UID_PATH = '/api/v1/namespaces/default/services/kubernetes';

export interface CacheOwner {
  /** SHA-256 fingerprints of the CA certificates trusted for the cluster, sorted. */
  cas: string[];
  /** The cluster UID (see CLUSTER_UID_PATH), once learnt. */
  uid?: string;
}

/** How a foreign cache was recognised; also the metric label. */
export type MismatchReason = 'ca' | 'cluster-uid' | 'unreadable-record';

export type Mismatch = { kind: 'foreign'; reason: MismatchReason; detail: string };

export type StartVerdict =
  /** No record: a new cache, or one written by a hub that kept none. Adopted for the configured CA. */
  | { kind: 'unowned' }
  /** Served; `uid` (if recorded) is checked at the first contact. */
  | { kind: 'owned'; owner: CacheOwner }
  | Mismatch;

export type ContactVerdict =
  /** The recorded cluster: the record may take the configured CAs (a rotation's bundle). */
  | { kind: 'same' }
  /** No UID was recorded yet: this one is. */
  | { kind: 'learnt' }
  | Mismatch;

const FORMAT = 1;
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Fingerprints of every certificate in a PEM bundle; a block that does not parse is skipped (TLS will refuse it anyway). */
export function caFingerprints(pem: string | Buffer | undefined): string[] {
  if (!pem) return [];
  const out = new Set<string>();
  for (const block of pem.toString().match(PEM_CERT) ?? []) {
    try {
      out.add(new X509Certificate(block).fingerprint256);
    } catch {
      // not a certificate after all
    }
  }
  return [...out].sort();
}

export function encodeOwner(owner: CacheOwner): Buffer {
  return Buffer.from(JSON.stringify({ format: FORMAT, cas: [...owner.cas].sort(), ...(owner.uid ? { uid: owner.uid } : {}) }));
}

/** The record, or undefined when it is not one this hub can read. */
export function decodeOwner(buf: Uint8Array): CacheOwner | undefined {
  try {
    const v = JSON.parse(Buffer.from(buf).toString('utf8')) as { format?: unknown; cas?: unknown; uid?: unknown };
    if (v.format !== FORMAT || !Array.isArray(v.cas) || !v.cas.every((c) => typeof c === 'string')) return undefined;
    if (v.uid !== undefined && (typeof v.uid !== 'string' || v.uid === '')) return undefined;
    return { cas: (v.cas as string[]).slice().sort(), ...(v.uid ? { uid: v.uid as string } : {}) };
  } catch {
    return undefined;
  }
}

/**
 * Judged before anything is served. Without CAs on one side (an http apiserver, or TLS checking
 * turned off) the CA says nothing, and the cluster UID alone decides at the first contact.
 */
export function judgeAtStart(record: Uint8Array | undefined, configuredCas: readonly string[]): StartVerdict {
  if (record === undefined) return { kind: 'unowned' };
  const owner = decodeOwner(record);
  if (!owner) return { kind: 'foreign', reason: 'unreadable-record', detail: 'the owner record cannot be read' };
  if (owner.cas.length > 0 && configuredCas.length > 0 && !owner.cas.some((c) => configuredCas.includes(c))) {
    return { kind: 'foreign', reason: 'ca', detail: `cached under CA ${owner.cas.join(',')}, the configured CA is ${configuredCas.join(',')}` };
  }
  return { kind: 'owned', owner };
}

export function judgeAtContact(owner: CacheOwner, uid: string): ContactVerdict {
  if (owner.uid === undefined) return { kind: 'learnt' };
  if (owner.uid === uid) return { kind: 'same' };
  return { kind: 'foreign', reason: 'cluster-uid', detail: `cached from cluster ${owner.uid}, the apiserver is cluster ${uid}` };
}

export function sameOwner(a: CacheOwner, b: CacheOwner): boolean {
  return a.uid === b.uid && a.cas.length === b.cas.length && a.cas.every((c, i) => c === b.cas[i]);
}
