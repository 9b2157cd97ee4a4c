/**
 * `yurt-tunnel agent` flags: every default in one literal, validated once, then frozen. Errors name
 * the flag and the rule (`--node-ip: "edge" is not an IP address`).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { deepFreeze, helpText, OptionError, parseFlags, toDuration, toInt, toList } from '../../lib/options.js';
import { AGENT_PATH, MAX_WINDOW, MIN_MAX_FRAME_SIZE, canonicalIp } from '../protocol/index.js';
import type { Cidr } from '../common/cidr.js';
import { FLAG_ERROR, checkLogLevel, checkNodeName, toCidrs, toHostPort, toPorts, withDefaults, type HostPort } from '../common/flags.js';

export const DEFAULTS = {
  server: '',
  nodeName: '',
  nodeIp: '',
  kubeletPorts: '10250,10255',
  allowedPorts: '',
  podCidr: '',
  dialAddress: '',
  caFile: '',
  clientCert: '',
  clientKey: '',
  bootstrapToken: '',
  apiserver: '',
  apiserverCaFile: '',
  certDir: '/var/lib/yurt-tunnel-agent',
  bootstrapTimeout: '2m',
  dialTimeout: '5s',
  backoffInitial: '1s',
  backoffMax: '30s',
  heartbeatInterval: '15s',
  handshakeTimeout: '10s',
  resolvePeriod: '30s',
  drainTimeout: '30s',
  maxStreams: '4096',
  streamWindow: '262144',
  streamWindowMax: '16777216',
  sessionWindowMax: '67108864',
  maxFrameSize: '262156',
  metricsAddress: '127.0.0.1:10266',
  logLevel: 'info',
};

const DESCRIPTIONS: Record<keyof typeof DEFAULTS, string> = {
  server: 'comma-separated server URLs (wss://host:port); a DNS name stands for every address it resolves to, required',
  nodeName: 'node this agent serves; must match its certificate (default: the host name)',
  nodeIp: 'comma-separated IP addresses of this node: the only hosts the agent dials, required',
  kubeletPorts: 'kubelet ports the agent dials',
  allowedPorts: 'further ports the agent may dial on this node (e.g. 9100 for node-exporter)',
  podCidr: 'comma-separated pod range(s) of this node: the agent dials these addresses on any port, for webhooks and APIs served by pods on this node; "node" reads them from this Node\'s spec.podCIDRs (needs --apiserver, --apiserver-ca-file) (empty: none)',
  dialAddress: 'dial this address instead of the requested one, e.g. 127.0.0.1 for a kubelet bound to localhost (the allowlist still checks the requested address)',
  caFile: 'CA that signs the server certificate, required',
  clientCert: 'node client certificate (CN=system:node:<name>, O=system:nodes), e.g. kubelet-client-current.pem; re-read at every connect, required',
  clientKey: 'node client key (may be the same file as --client-cert)',
  bootstrapToken: 'instead of --client-cert/--client-key: a bootstrap token (<id>.<secret>) exchanged for a node certificate through a CSR; the agent then renews that certificate with itself at 70-90% of its lifetime',
  apiserver: 'kube-apiserver URL for the bootstrap and renewal CSRs (https://host:port)',
  apiserverCaFile: 'CA of the kube-apiserver serving certificate, for the bootstrap and renewal CSRs',
  certDir: 'where the certificate obtained with --bootstrap-token is kept (yurt-tunnel-agent-current.pem, replaced atomically on renewal)',
  bootstrapTimeout: 'how long one CSR (bootstrap or renewal) may take to be approved and signed',
  dialTimeout: 'how long connecting to a local target may take',
  backoffInitial: 'first reconnect delay',
  backoffMax: 'longest reconnect delay (delays double up to it, with jitter)',
  heartbeatInterval: 'WebSocket ping interval; a session silent for a whole interval is dropped',
  handshakeTimeout: 'how long connecting to a server may take',
  resolvePeriod: 'how often server DNS names are resolved again to find replicas',
  drainTimeout: 'on shutdown, how long streams in progress may continue before they are cut',
  maxStreams: 'concurrent streams per server session',
  streamWindow: 'bytes each stream may have in flight per direction at first (flow-control window)',
  streamWindowMax: 'largest a stream\'s window grows to when its throughput × round trip needs it (peers that negotiate growing windows)',
  sessionWindowMax: 'growth of all streams\' windows together on one session: bounds the memory a busy peer can make this end hold',
  maxFrameSize: 'largest tunnel frame accepted (WebSocket maxPayload)',
  metricsAddress: '/healthz, /readyz, /metrics listener, <ip>:<port>',
  logLevel: 'trace, debug, info, warn, error, fatal or silent',
};

export interface AgentOptions {
  servers: URL[];
  nodeName: string;
  nodeIps: string[];
  ports: number[];
  podCidrs: Cidr[];
  /** `--pod-cidr=node`: read the ranges from the Node object on this apiserver. */
  podCidrsFromNode: { apiserver: URL; apiserverCaFile: string } | undefined;
  dialAddress: string | undefined;
  caFile: string;
  clientCert: string;
  clientKey: string;
  /** Set when the identity comes from a bootstrap token rather than certificate files. */
  bootstrap: { token: string; apiserver: URL; apiserverCaFile: string; bundleFile: string; timeoutMs: number } | undefined;
  dialTimeoutMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  heartbeatIntervalMs: number;
  handshakeTimeoutMs: number;
  resolvePeriodMs: number;
  drainTimeoutMs: number;
  maxStreams: number;
  streamWindow: number;
  streamWindowMax: number;
  sessionWindowMax: number;
  maxFrameSize: number;
  metricsAddress: HostPort;
  logLevel: string;
}

export function usage(): string {
  return helpText('yurt-tunnel agent', DEFAULTS, DESCRIPTIONS);
}

function serverUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OptionError(FLAG_ERROR, 'server', `"${raw}" is not a URL`);
  }
  if (url.protocol !== 'wss:') throw new OptionError(FLAG_ERROR, 'server', `"${raw}" must be a wss:// URL: agents only connect with TLS`);
  if (url.pathname === '/' || url.pathname === '') url.pathname = AGENT_PATH;
  return url;
}

/** --apiserver and --apiserver-ca-file, required by `flag`. */
function apiserverFor(flag: string, raw: Record<keyof typeof DEFAULTS, string>): { apiserver: URL; apiserverCaFile: string } {
  let apiserver: URL;
  try {
    apiserver = new URL(raw.apiserver);
  } catch {
    throw new OptionError(FLAG_ERROR, 'apiserver', `is required with --${flag}=node and must be an https URL, got "${raw.apiserver}"`);
  }
  if (apiserver.protocol !== 'https:') throw new OptionError(FLAG_ERROR, 'apiserver', `must be an https URL, got "${raw.apiserver}"`);
  if (!raw.apiserverCaFile) throw new OptionError(FLAG_ERROR, 'apiserver-ca-file', `is required with --${flag}=node`);
  return { apiserver, apiserverCaFile: raw.apiserverCaFile };
}

function bootstrapOptions(raw: Record<keyof typeof DEFAULTS, string>): AgentOptions['bootstrap'] {
  if (!raw.bootstrapToken) return undefined;
  if (raw.clientCert || raw.clientKey) throw new OptionError(FLAG_ERROR, 'bootstrap-token', 'give --bootstrap-token or --client-cert/--client-key, not both');
  if (!/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(raw.bootstrapToken)) throw new OptionError(FLAG_ERROR, 'bootstrap-token', 'must have the form [a-z0-9]{6}.[a-z0-9]{16}');
  let apiserver: URL;
  try {
    apiserver = new URL(raw.apiserver);
  } catch {
    throw new OptionError(FLAG_ERROR, 'apiserver', `is required with --bootstrap-token and must be an https URL, got "${raw.apiserver}"`);
  }
  if (apiserver.protocol !== 'https:') throw new OptionError(FLAG_ERROR, 'apiserver', `must be an https URL, got "${raw.apiserver}"`);
  if (!raw.apiserverCaFile) throw new OptionError(FLAG_ERROR, 'apiserver-ca-file', 'is required with --bootstrap-token');
  if (!raw.certDir) throw new OptionError(FLAG_ERROR, 'cert-dir', 'must not be empty');
  return {
    token: raw.bootstrapToken,
    apiserver,
    apiserverCaFile: raw.apiserverCaFile,
    bundleFile: join(raw.certDir, 'yurt-tunnel-agent-current.pem'),
    timeoutMs: toDuration('bootstrap-timeout', raw.bootstrapTimeout, FLAG_ERROR, 1000),
  };
}

/** Parses and validates argv. Throws OptionError (TUN_ERR_INVALID_FLAG) naming the flag and the rule. */
export function parseOptions(argv: string[]): Readonly<AgentOptions> & { help?: boolean } {
  const { values, positionals } = parseFlags(argv, DEFAULTS, FLAG_ERROR);
  if (positionals.length) throw new OptionError(FLAG_ERROR, positionals[0]!, 'yurt-tunnel agent takes no positional arguments');
  if ((values as Record<string, unknown>).help) return { help: true } as Readonly<AgentOptions> & { help: boolean };
  const raw = withDefaults(DEFAULTS, values);

  const servers = toList(raw.server).map(serverUrl);
  if (servers.length === 0) throw new OptionError(FLAG_ERROR, 'server', 'at least one server URL is required');
  const nodeIps = toList(raw.nodeIp).map((ip) => {
    const canonical = canonicalIp(ip);
    if (!canonical) throw new OptionError(FLAG_ERROR, 'node-ip', `"${ip}" is not an IP address`);
    return canonical;
  });
  if (nodeIps.length === 0) throw new OptionError(FLAG_ERROR, 'node-ip', 'at least one address of this node is required');
  const ports = [...new Set([...toPorts('kubelet-ports', raw.kubeletPorts), ...toPorts('allowed-ports', raw.allowedPorts)])];
  if (ports.length === 0) throw new OptionError(FLAG_ERROR, 'kubelet-ports', 'at least one port must be allowed');
  if (!raw.caFile) throw new OptionError(FLAG_ERROR, 'ca-file', 'is required');
  const bootstrap = bootstrapOptions(raw);
  if (!bootstrap) {
    for (const flag of ['clientCert', 'clientKey'] as const) {
      if (!raw[flag]) throw new OptionError(FLAG_ERROR, flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), 'is required (or give --bootstrap-token)');
    }
  }
  const dialAddress = raw.dialAddress ? canonicalIp(raw.dialAddress) : undefined;
  if (raw.dialAddress && !dialAddress) throw new OptionError(FLAG_ERROR, 'dial-address', `"${raw.dialAddress}" is not an IP address`);
  const backoffInitialMs = toDuration('backoff-initial', raw.backoffInitial, FLAG_ERROR, 10);
  const backoffMaxMs = toDuration('backoff-max', raw.backoffMax, FLAG_ERROR, 10);
  if (backoffMaxMs < backoffInitialMs) throw new OptionError(FLAG_ERROR, 'backoff-max', 'must not be shorter than --backoff-initial');

  const podCidrsFromNode = raw.podCidr.trim() === 'node' ? apiserverFor('pod-cidr', raw) : undefined;
  const podCidrs = podCidrsFromNode ? [] : toCidrs('pod-cidr', raw.podCidr, '10.244.3.0/24');

  return deepFreeze({
    servers,
    nodeName: checkNodeName('node-name', raw.nodeName || hostname().toLowerCase()),
    nodeIps,
    ports,
    podCidrs,
    podCidrsFromNode,
    dialAddress,
    caFile: raw.caFile,
    clientCert: raw.clientCert,
    clientKey: raw.clientKey,
    bootstrap,
    dialTimeoutMs: toDuration('dial-timeout', raw.dialTimeout, FLAG_ERROR, 10),
    backoffInitialMs,
    backoffMaxMs,
    heartbeatIntervalMs: toDuration('heartbeat-interval', raw.heartbeatInterval, FLAG_ERROR, 100),
    handshakeTimeoutMs: toDuration('handshake-timeout', raw.handshakeTimeout, FLAG_ERROR, 100),
    resolvePeriodMs: toDuration('resolve-period', raw.resolvePeriod, FLAG_ERROR, 1000),
    drainTimeoutMs: toDuration('drain-timeout', raw.drainTimeout, FLAG_ERROR),
    maxStreams: toInt('max-streams', raw.maxStreams, 1, 1 << 20, FLAG_ERROR),
    streamWindow: toInt('stream-window', raw.streamWindow, 16_384, MAX_WINDOW, FLAG_ERROR),
    streamWindowMax: toInt('stream-window-max', raw.streamWindowMax, 16_384, MAX_WINDOW, FLAG_ERROR),
    sessionWindowMax: toInt('session-window-max', raw.sessionWindowMax, 0, 2 ** 40, FLAG_ERROR),
    maxFrameSize: toInt('max-frame-size', raw.maxFrameSize, MIN_MAX_FRAME_SIZE, 1 << 24, FLAG_ERROR),
    metricsAddress: toHostPort('metrics-address', raw.metricsAddress),
    logLevel: checkLogLevel(raw.logLevel),
  });
}
