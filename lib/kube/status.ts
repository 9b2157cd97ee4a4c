import { encodeUnknown } from './protobuf.js';
import { ProtoWriter } from './protobuf-wire.js';

/**
 * metav1.Status error bodies, built like k8s.io/apimachinery/pkg/api/errors builds them. Clients
 * branch on `reason` and `code` (client-go's IsNotFound, kubectl's messages), and operators grep
 * logs for the apiserver's wording, so both are reproduced exactly, down to which fields are left
 * out: Go omits empty fields, which is why a core-group NotFound has no `details.group`.
 */

export type StatusReason =
  | 'NotFound'
  | 'Forbidden'
  | 'BadRequest'
  | 'MethodNotAllowed'
  | 'ServiceUnavailable'
  | 'InternalError'
  | 'RequestEntityTooLarge'
  | 'TooManyRequests'
  | 'Timeout'
  | 'Expired'
  | 'NotAcceptable';

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  /** For errors about a resource, Go puts the resource (`pods`) here, not the Kind. */
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: StatusReason;
  details?: StatusDetails;
  code: number;
}

/** A resource with its API group: `{ group: '', resource: 'pods' }`. */
export interface GroupResource {
  group: string;
  resource: string;
}

/** schema.GroupResource.String(): `pods`, `leases.coordination.k8s.io`. */
export function qualifiedResource(gr: GroupResource): string {
  return gr.group === '' ? gr.resource : `${gr.resource}.${gr.group}`;
}

/** Drops empty values the way `omitempty` does, keeping Go's field order for identical JSON. */
function details(d: StatusDetails): StatusDetails {
  const out: StatusDetails = {};
  if (d.name) out.name = d.name;
  if (d.group) out.group = d.group;
  if (d.kind) out.kind = d.kind;
  if (d.uid) out.uid = d.uid;
  if (d.causes && d.causes.length > 0) out.causes = d.causes;
  if (d.retryAfterSeconds) out.retryAfterSeconds = d.retryAfterSeconds;
  return out;
}

function failure(code: number, reason: StatusReason, message: string, d?: StatusDetails): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    ...(message ? { message } : {}),
    reason,
    ...(d ? { details: details(d) } : {}),
    code,
  };
}

function resourceDetails(gr: GroupResource, name = ''): StatusDetails {
  return { name, group: gr.group, kind: gr.resource };
}

/** 404, `pods "x" not found`. */
export function notFound(gr: GroupResource, name: string): Status {
  return failure(404, 'NotFound', `${qualifiedResource(gr)} ${JSON.stringify(name)} not found`, resourceDetails(gr, name));
}

/** 403, `pods "x" is forbidden: <why>` (or without the name, or just `forbidden: <why>`). */
export function forbidden(gr: GroupResource | undefined, name: string, why: string): Status {
  const qr = gr ? qualifiedResource(gr) : '';
  const message =
    qr === '' ? `forbidden: ${why}` : name === '' ? `${qr} is forbidden: ${why}` : `${qr} ${JSON.stringify(name)} is forbidden: ${why}`;
  return failure(403, 'Forbidden', message, resourceDetails(gr ?? { group: '', resource: '' }, name));
}

/** 400 with the message as given. */
export function badRequest(message: string): Status {
  return failure(400, 'BadRequest', message);
}

/** 405, `<action> is not supported on resources of kind "pods"`. */
export function methodNotSupported(gr: GroupResource, action: string): Status {
  return failure(
    405,
    'MethodNotAllowed',
    `${action} is not supported on resources of kind ${JSON.stringify(qualifiedResource(gr))}`,
    resourceDetails(gr),
  );
}

/** 503 with the message as given. */
export function serviceUnavailable(message: string): Status {
  return failure(503, 'ServiceUnavailable', message);
}

/** 500, `Internal error occurred: <err>`, the error also listed as the single cause. */
export function internalError(err: unknown): Status {
  const text = err instanceof Error ? err.message : String(err);
  return failure(500, 'InternalError', `Internal error occurred: ${text}`, { causes: [{ message: text }] });
}

/** 413, `Request entity too large: <message>`. */
export function requestEntityTooLarge(message: string): Status {
  return failure(413, 'RequestEntityTooLarge', `Request entity too large: ${message}`);
}

/** 429 with the message as given; clients back off for `retryAfterSeconds`. */
export function tooManyRequests(message: string, retryAfterSeconds = 0): Status {
  return failure(429, 'TooManyRequests', message, { retryAfterSeconds });
}

/** 504, `Timeout: <message>`. */
export function timeout(message: string, retryAfterSeconds = 0): Status {
  return failure(504, 'Timeout', `Timeout: ${message}`, { retryAfterSeconds });
}

/** 406 with the message as given, what the apiserver answers when no Accept clause can be served. */
export function notAcceptable(message: string): Status {
  return failure(406, 'NotAcceptable', message);
}

/** 410 Expired: what a LIST/WATCH gets for a resourceVersion the server no longer has. */
export function resourceExpired(message: string): Status {
  return failure(410, 'Expired', message);
}

export function isStatus(obj: unknown): obj is Status {
  const o = obj as { kind?: unknown; apiVersion?: unknown } | null;
  return typeof o === 'object' && o !== null && o.kind === 'Status' && o.apiVersion === 'v1';
}

/**
 * The Status as a protobuf body (`k8s\0` + Unknown{v1, Status}), for clients that asked for
 * protobuf. Fields are written in the order and with the always-present empty strings of the
 * generated Go marshaller: Status {1 metadata, 2 status, 3 message, 4 reason, 5 details, 6 code},
 * StatusDetails {1 name, 2 group, 3 kind, 4 causes, 5 retryAfterSeconds, 6 uid},
 * StatusCause {1 reason, 2 message, 3 field}.
 */
export function statusToProtobuf(s: Status): Uint8Array {
  const w = new ProtoWriter();
  w.messageField(1, (m) => m.stringField(1, '').stringField(2, '').stringField(3, ''));
  w.stringField(2, s.status);
  w.stringField(3, s.message ?? '');
  w.stringField(4, s.reason ?? '');
  const d = s.details;
  if (d) {
    w.messageField(5, (dw) => {
      dw.stringField(1, d.name ?? '').stringField(2, d.group ?? '').stringField(3, d.kind ?? '');
      for (const c of d.causes ?? []) {
        dw.messageField(4, (cw) => cw.stringField(1, c.reason ?? '').stringField(2, c.message ?? '').stringField(3, c.field ?? ''));
      }
      dw.varintField(5, d.retryAfterSeconds ?? 0).stringField(6, d.uid ?? '');
    });
  }
  w.varintField(6, s.code);
  return encodeUnknown({ typeMeta: { apiVersion: 'v1', kind: 'Status' }, raw: w.finish() });
}
