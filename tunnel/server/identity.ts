/**
 * Who is on the other end of a TLS connection, from the client certificate the TLS layer already
 * verified against our CA. Agents must be nodes (the kubelet's own identity, as the Node authorizer
 * understands it); callers of the front doors must not be, or any node could reach every other
 * node's kubelet through us.
 */
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { YurtError } from '../../lib/errors.js';
import { tunnelErrors } from '../protocol/index.js';

const NODE_PREFIX = 'system:node:';
const NODES_GROUP = 'system:nodes';
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export interface Subject {
  commonName: string;
  organizations: string[];
}

function asList(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

export function subjectOf(cert: PeerCertificate): Subject {
  const subject = cert.subject ?? {};
  return { commonName: asList(subject.CN)[0] ?? '', organizations: asList(subject.O) };
}

export function describeSubject(s: Subject): string {
  return [`CN=${s.commonName}`, ...s.organizations.map((o) => `O=${o}`)].join(',');
}

/** A verified peer certificate, or the error that explains why there is none. */
export function verifiedPeer(socket: TLSSocket, unauthenticated: (why: string) => YurtError): Subject | YurtError {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return unauthenticated('no client certificate');
  if (!socket.authorized) return unauthenticated(String(socket.authorizationError ?? 'certificate not trusted'));
  return subjectOf(cert);
}

/** The node an agent's certificate speaks for: CN=system:node:<name> with O=system:nodes. */
export function nodeIdentity(subject: Subject): string | YurtError {
  const name = subject.commonName.startsWith(NODE_PREFIX) ? subject.commonName.slice(NODE_PREFIX.length) : '';
  if (!name || !NODE_NAME.test(name) || !subject.organizations.includes(NODES_GROUP)) {
    return tunnelErrors.TUN_ERR_AGENT_NOT_A_NODE(describeSubject(subject));
  }
  return name;
}

/**
 * Whether a front-door caller may use the tunnel. Node identities never may; with an allowlist of
 * common names, only those; without one, any other certificate from the caller CA.
 */
export function callerAllowed(subject: Subject, allowed: readonly string[]): YurtError | undefined {
  if (subject.commonName.startsWith(NODE_PREFIX) || subject.organizations.includes(NODES_GROUP)) {
    return tunnelErrors.TUN_ERR_CALLER_FORBIDDEN(describeSubject(subject), 'node identities may not use the tunnel');
  }
  if (allowed.length > 0 && !allowed.includes(subject.commonName)) {
    return tunnelErrors.TUN_ERR_CALLER_FORBIDDEN(describeSubject(subject), `common name not in --allowed-callers (${allowed.join(', ')})`);
  }
  return undefined;
}
