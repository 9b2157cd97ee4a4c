/**
 * Who the hub is to the apiserver. Requests that carry their own Authorization (a pod's service
 * account token, kubectl's user) go with it and with no client certificate, so a token is never
 * turned into node rights; everything else goes as the node, with the hub's certificate or token.
 */
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import { Agent as HttpAgent } from 'node:http';

export interface IdentityMaterial {
  ca?: string | Buffer;
  certPem?: string | Buffer;
  keyPem?: string | Buffer;
  /** Bearer token used when there is no client certificate. */
  token?: string;
  insecureSkipTlsVerify?: boolean;
}

const AGENT_DEFAULTS: AgentOptions = { keepAlive: true, maxSockets: Infinity, maxFreeSockets: 64, scheduling: 'lifo' };

export class UpstreamIdentity {
  private node!: HttpsAgent;
  private anonymous!: HttpsAgent;
  private readonly plain = new HttpAgent({ keepAlive: true, maxSockets: Infinity });
  private material!: IdentityMaterial;

  constructor(material: IdentityMaterial) {
    this.update(material);
  }

  /** Swaps in rotated credentials; requests in flight finish on the old connections. */
  update(material: IdentityMaterial): void {
    const old = [this.node, this.anonymous];
    this.material = material;
    const tls = { ca: material.ca, rejectUnauthorized: !material.insecureSkipTlsVerify };
    this.node = new HttpsAgent({ ...AGENT_DEFAULTS, ...tls, cert: material.certPem, key: material.keyPem });
    this.anonymous = new HttpsAgent({ ...AGENT_DEFAULTS, ...tls });
    // Idle keep-alive sockets would otherwise keep presenting the old certificate.
    for (const agent of old) agent?.destroy();
  }

  /** The agent for a request to `url`; `ownAuthorization` when the client brought its own credentials. */
  agent(url: URL, ownAuthorization: boolean): HttpsAgent | HttpAgent {
    if (url.protocol === 'http:') return this.plain;
    return ownAuthorization ? this.anonymous : this.node;
  }

  /** The Authorization header the hub adds for requests without one, if it authenticates by token. */
  authorization(): string | undefined {
    return this.material.token ? `Bearer ${this.material.token}` : undefined;
  }

  close(): void {
    this.node.destroy();
    this.anonymous.destroy();
    this.plain.destroy();
  }
}
