/**
 * Reading kubelet's TokenRequests and their answers without schemas (docs/yurthub.md, "Credentials
 * on disk"): which pod a request binds its token to, the key its answer is kept under, the token in
 * an answer and when that token expires. JSON and protobuf alike, since kubelet speaks protobuf to
 * the core group. Field numbers from k8s.io/api/authentication/v1/generated.proto:
 *   TokenRequest{metadata=1, spec=2, status=3}
 *   TokenRequestSpec{audiences=1 (repeated), boundObjectRef=3, expirationSeconds=4}
 *   BoundObjectReference{kind=1, apiVersion=2, name=3, uid=4}
 *   TokenRequestStatus{token=1, expirationTimestamp=2}
 */
import { createHash } from 'node:crypto';
import { decodeUnknown, hasProtobufMagic, readNestedBytes, readNestedString } from '../../lib/kube/protobuf.js';
import { ProtoReader, WireType } from '../../lib/kube/protobuf-wire.js';

/** What identifies one kubelet TokenRequest: its answer is kept, and served offline, under this. */
export interface PodTokenKey {
  namespace: string;
  serviceAccount: string;
  podUID: string;
  /** As the request lists them: the apiserver issues the token for exactly these, in this order. */
  audiences: readonly string[];
  /** 0 when the request does not say (the apiserver then picks the duration). */
  expirationSeconds: number;
}

interface TokenRequestSpec {
  audiences: string[];
  expirationSeconds: number;
  boundKind: string;
  boundUID: string;
}

/**
 * The key of a TokenRequest body for `namespace`/`serviceAccount`, or undefined when the token is
 * not bound to a pod (an unbound token outlives any pod and is never kept) or the body is unreadable.
 */
export function podTokenKey(namespace: string, serviceAccount: string, body: Uint8Array | undefined): PodTokenKey | undefined {
  if (!body || body.length === 0 || namespace === '' || serviceAccount === '') return undefined;
  let spec: TokenRequestSpec | undefined;
  try {
    spec = hasProtobufMagic(body) ? protobufSpec(body) : jsonSpec(body);
  } catch {
    return undefined;
  }
  if (!spec || spec.boundKind !== 'Pod' || spec.boundUID === '') return undefined;
  return { namespace, serviceAccount, podUID: spec.boundUID, audiences: spec.audiences, expirationSeconds: spec.expirationSeconds };
}

function jsonSpec(body: Uint8Array): TokenRequestSpec | undefined {
  const doc = JSON.parse(Buffer.from(body).toString('utf8')) as unknown;
  const spec = field(doc, 'spec');
  if (spec === undefined) return undefined;
  const audiences = field(spec, 'audiences') ?? [];
  if (!Array.isArray(audiences) || !audiences.every((a) => typeof a === 'string')) return undefined;
  const seconds = field(spec, 'expirationSeconds') ?? 0;
  if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds)) return undefined;
  const ref = field(spec, 'boundObjectRef');
  const kind = field(ref, 'kind');
  const uid = field(ref, 'uid');
  return { audiences, expirationSeconds: seconds, boundKind: typeof kind === 'string' ? kind : '', boundUID: typeof uid === 'string' ? uid : '' };
}

function field(obj: unknown, name: string): unknown {
  return obj !== null && typeof obj === 'object' && !Array.isArray(obj) && Object.hasOwn(obj, name) ? (obj as Record<string, unknown>)[name] : undefined;
}

function protobufSpec(body: Uint8Array): TokenRequestSpec | undefined {
  const spec = readNestedBytes(decodeUnknown(body).raw, [2]);
  if (!spec) return undefined;
  const out: TokenRequestSpec = { audiences: [], expirationSeconds: 0, boundKind: '', boundUID: '' };
  const r = new ProtoReader(spec);
  while (!r.done) {
    const t = r.tag();
    if (t.field === 1) out.audiences.push(r.stringAs(t, 'TokenRequestSpec.audiences'));
    else if (t.field === 4 && t.wire === WireType.Varint) out.expirationSeconds = r.int64();
    else if (t.field === 3) {
      const ref = r.bytesAs(t, 'TokenRequestSpec.boundObjectRef');
      out.boundKind = readNestedString(ref, [1]) ?? '';
      out.boundUID = readNestedString(ref, [4]) ?? '';
    } else r.skip(t.wire, t.field);
  }
  return out;
}

/**
 * The store name of a key, inside the hub's own token partition and the key's namespace:
 * `<serviceaccount>:<pod uid>:<expirationSeconds>:<digest of the audiences>`. `:` occurs in none of
 * the first three (DNS names, UUIDs, digits); the audiences are digested because they are URLs.
 */
export function podTokenName(key: PodTokenKey): string {
  const audiences = createHash('sha256').update(JSON.stringify(key.audiences)).digest('hex').slice(0, 16);
  return `${key.serviceAccount}:${key.podUID}:${key.expirationSeconds}:${audiences}`;
}

/** The pod UID of a store name made by podTokenName; undefined for any other name. */
export function podUIDOfName(name: string): string | undefined {
  const parts = name.split(':');
  return parts.length === 4 && parts[1] !== '' ? parts[1] : undefined;
}

/** The token (status.token) of a TokenRequest answer, or undefined when there is none. */
export function tokenOfAnswer(format: 'json' | 'protobuf', body: Uint8Array): string | undefined {
  try {
    if (format === 'protobuf') return readNestedString(decodeUnknown(body).raw, [3, 1]) || undefined;
    const token = field(field(JSON.parse(Buffer.from(body).toString('utf8')), 'status'), 'token');
    return typeof token === 'string' && token !== '' ? token : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A JWT's `exp` claim in milliseconds since the epoch, read from its payload without checking the
 * signature (the hub only decides whether handing the token back is still of any use; the apiserver
 * checks it when it is presented). Undefined when the token is no JWT or has no numeric `exp`.
 */
export function jwtExpiryMs(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const exp = field(JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')), 'exp');
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
