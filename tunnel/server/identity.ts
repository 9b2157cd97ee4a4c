/**
 * Who is on the other end of a TLS connection, from the client certificate the TLS layer already
 * verified against our CA. Agents must be nodes (the kubelet's own identity, as the Node authorizer
 * understands it); callers of the front doors must not be, or any node could reach every other
 * node's kubelet through us.
 */
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { YurtError } from '../../lib/errors.js';
import { tunnelErrors } from '../protocol/index.js';

const NODE_PREFIX = 'system:node:';
const NODES_GROUP = 'system:nodes';
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export interface Subject {
  commonName: string;
  organizations: string[];
}

/** RFC 2253 escapes as OpenSSL prints them: `\,` for a special character, `\0A` for a control one. */
function unescapeValue(v: string): string {
  return v.replace(/\\([0-9A-Fa-f]{2}|.)/g, (_, g: string) => (g.length === 2 ? String.fromCharCode(parseInt(g, 16)) : g));
}

/**
 * The subject of an X509Certificate, from its one-attribute-per-line text. Read this way rather than
 * through getPeerCertificate(), which also hashes three fingerprints of every client certificate: a
 * fifth of the server's CPU while a fleet of agents reconnects.
 */
export function subjectOf(cert: Pick<X509Certificate, 'subject'>): Subject {
  const subject: Subject = { commonName: '', organizations: [] };
  let haveCn = false;
  for (const attribute of cert.subject.split('\n').flatMap((line) => line.split(' + '))) {
    const eq = attribute.indexOf('=');
    if (eq < 0) continue;
    const key = attribute.slice(0, eq);
    const value = unescapeValue(attribute.slice(eq + 1));
    if (key === 'CN' && !haveCn) {
      subject.commonName = value;
      haveCn = true;
    } else if (key === 'O') {
      subject.organizations.push(value);
    }
  }
  return subject;
}

export function describeSubject(s: Subject): string {
  return [`CN=${s.commonName}`, ...s.organizations.map((o) => `O=${o}`)].join(',');
}

/** A verified peer certificate, or the error that explains why there is none. */
export function verifiedPeer(socket: TLSSocket, unauthenticated: (why: string) => YurtError): Subject | YurtError {
  const cert = socket.getPeerX509Certificate();
  if (!cert) return unauthenticated('no client certificate');
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
