/**
 * `yurt-tunnel server` flags: every default in one literal, validated once, then frozen. Errors name
 * the flag and the rule (`--agent-address: must be <ip>:<port> ...`).
 */
import { deepFreeze, helpText, OptionError, parseFlags, toDuration, toInt, toList } from '../../lib/options.js';
import { MIN_MAX_FRAME_SIZE, MAX_WINDOW, canonicalIp, parseTarget } from '../protocol/index.js';
import type { Cidr } from '../common/cidr.js';
import { FLAG_ERROR, checkLogLevel, checkNodeName, toCidrs, toHostPort, toHostPorts, withDefaults, type HostPort } from '../common/flags.js';

export const DEFAULTS = {
  agentAddress: '0.0.0.0:10262',
  certFile: '',
  keyFile: '',
  caFile: '',
  proxyAddress: '',
  proxyUds: '',
  proxyUdsMode: '0660',
  proxyCertFile: '',
  proxyKeyFile: '',
  callerCaFile: '',
  allowedCallers: '',
  interceptorAddress: '',
  interceptorCertFile: '',
  interceptorKeyFile: '',
  kubeletClientCertFile: '',
  kubeletClientKeyFile: '',
  kubeletCaFile: '',
  kubeletPort: '10250',
  kubeconfig: '',
  staticNodes: '',
  serviceCidr: '',
  podCidr: '',
  cloudNodeCidr: '',
  cloudNodes: 'none',
  directDialTimeout: '10s',
  metricsAddress: '0.0.0.0:10265',
  maxStreamsPerAgent: '4096',
  streamWindow: '262144',
  streamWindowMax: '16777216',
  sessionWindowMax: '67108864',
  maxFrameSize: '262156',
  openTimeout: '10s',
  heartbeatInterval: '15s',
  duplicateProbeTimeout: '2s',
  drainTimeout: '30s',
  logLevel: 'info',
};

const DESCRIPTIONS: Record<keyof typeof DEFAULTS, string> = {
  agentAddress: 'where agents connect (wss, mutual TLS)',
  certFile: 'serving certificate for agents (and the front doors unless given their own), required',
  keyFile: 'serving key, required',
  caFile: 'cluster CA: verifies agent node certificates (CN=system:node:<name>, O=system:nodes), required',
  proxyAddress: 'egress-selector CONNECT proxy over mutual TLS, <ip>:<port> (empty: off)',
  proxyUds: 'egress-selector CONNECT proxy on this unix socket (empty: off)',
  proxyUdsMode: 'file mode of --proxy-uds, octal',
  proxyCertFile: 'serving certificate of the CONNECT proxy (default --cert-file)',
  proxyKeyFile: 'serving key of the CONNECT proxy (default --key-file)',
  callerCaFile: 'CA of front-door callers\' client certificates (default --ca-file)',
  allowedCallers: 'comma-separated common names allowed to use the front doors (empty: any non-node certificate from the caller CA)',
  interceptorAddress: 'comma-separated <ip>:<port> listeners for DNAT\'d kubelet traffic (empty: off)',
  interceptorCertFile: 'interceptor serving certificate, SANs covering the node addresses (required with --interceptor-address)',
  interceptorKeyFile: 'interceptor serving key',
  kubeletClientCertFile: 'the server\'s client certificate towards kubelets (required with --interceptor-address)',
  kubeletClientKeyFile: 'the server\'s client key towards kubelets',
  kubeletCaFile: 'CA of kubelet serving certificates (empty: not verified, like kube-apiserver without --kubelet-certificate-authority)',
  kubeletPort: 'kubelet port assumed when an intercepted request names none',
  kubeconfig: 'kubeconfig for watching Node objects (empty: in-cluster service account)',
  staticNodes: 'fixed node=ip[:kubelet-port] list instead of watching Nodes (development and tests), e.g. edge-1=10.0.0.7,edge-2=10.0.0.8:10250',
  serviceCidr: 'comma-separated Service ClusterIP range(s) (kube-apiserver --service-cluster-ip-range): CONNECTs to them (webhooks, aggregated APIs) are dialled by this server (empty: none)',
  podCidr: 'comma-separated cluster pod range(s) (--cluster-cidr): pod addresses outside every edge node\'s podCIDR are dialled by this server (empty: none)',
  cloudNodeCidr: 'comma-separated range(s) of cloud hosts (nodes without an agent, control-plane hosts) this server dials itself (empty: none)',
  cloudNodes: 'none, or not-edge: the addresses of Nodes not labelled openyurt.io/is-edge-worker=true and without an agent are dialled by this server (needs --kubeconfig)',
  directDialTimeout: 'how long a destination this server dials itself may take to accept the connection',
  metricsAddress: '/healthz, /readyz, /metrics listener, <ip>:<port>',
  maxStreamsPerAgent: 'concurrent streams per agent session',
  streamWindow: 'bytes each stream may have in flight per direction at first (flow-control window)',
  streamWindowMax: 'largest a stream\'s window grows to when its throughput × round trip needs it (peers that negotiate growing windows)',
  sessionWindowMax: 'growth of all streams\' windows together on one session: bounds the memory a busy peer can make this end hold',
  maxFrameSize: 'largest tunnel frame accepted (WebSocket maxPayload)',
  openTimeout: 'how long an agent may take to answer an open',
  heartbeatInterval: 'WebSocket ping interval; a session silent for a whole interval is dropped',
  duplicateProbeTimeout: 'how long a connected agent has to answer a ping when a second one claims its node',
  drainTimeout: 'on shutdown, how long streams in progress may continue before they are cut',
  logLevel: 'trace, debug, info, warn, error, fatal or silent',
};

export interface ServerOptions {
  agentAddress: HostPort;
  certFile: string;
  keyFile: string;
  caFile: string;
  proxyAddress: HostPort | undefined;
  proxyUds: string;
  proxyUdsMode: number;
  proxyCertFile: string;
  proxyKeyFile: string;
  callerCaFile: string;
  allowedCallers: string[];
  interceptorAddresses: HostPort[];
  interceptorCertFile: string;
  interceptorKeyFile: string;
  kubeletClientCertFile: string;
  kubeletClientKeyFile: string;
  kubeletCaFile: string;
  kubeletPort: number;
  kubeconfig: string;
  staticNodes: Array<{ name: string; ip: string; kubeletPort?: number }> | undefined;
  serviceCidrs: Cidr[];
  podCidrs: Cidr[];
  cloudNodeCidrs: Cidr[];
  cloudNodes: 'none' | 'not-edge';
  directDialTimeoutMs: number;
  metricsAddress: HostPort;
  maxStreamsPerAgent: number;
  streamWindow: number;
  streamWindowMax: number;
  sessionWindowMax: number;
  maxFrameSize: number;
  openTimeoutMs: number;
  heartbeatIntervalMs: number;
  duplicateProbeTimeoutMs: number;
  drainTimeoutMs: number;
  logLevel: string;
}

export function usage(): string {
  return helpText('yurt-tunnel server', DEFAULTS, DESCRIPTIONS);
}

function required(flag: string, value: string, why = 'is required'): string {
  if (!value) throw new OptionError(FLAG_ERROR, flag, why);
  return value;
}

function staticNodes(raw: string): Array<{ name: string; ip: string; kubeletPort?: number }> {
  return toList(raw).map((item) => {
    const [name = '', address = ''] = item.split('=');
    checkNodeName('static-nodes', name);
    const withPort = parseTarget(address);
    const ip = canonicalIp(withPort?.host ?? address);
    if (ip === undefined) throw new OptionError(FLAG_ERROR, 'static-nodes', `"${item}" must be <node>=<ip> or <node>=<ip>:<kubelet port>`);
    return withPort ? { name, ip, kubeletPort: withPort.port } : { name, ip };
  });
}

/** The example a bad range's error shows. */
const CIDR_EXAMPLE = '10.96.0.0/12';

function cloudNodes(raw: string, staticNodes: string): 'none' | 'not-edge' {
  if (raw !== 'none' && raw !== 'not-edge') throw new OptionError(FLAG_ERROR, 'cloud-nodes', `must be none or not-edge, got "${raw}"`);
  if (raw === 'not-edge' && staticNodes) throw new OptionError(FLAG_ERROR, 'cloud-nodes', 'not-edge reads Node labels: it needs --kubeconfig (static nodes are all edge nodes)');
  return raw;
}

/** Parses and validates argv. Throws OptionError (TUN_ERR_INVALID_FLAG) naming the flag and the rule. */
export function parseOptions(argv: string[]): Readonly<ServerOptions> & { help?: boolean } {
  const { values, positionals } = parseFlags(argv, DEFAULTS, FLAG_ERROR);
  if (positionals.length) throw new OptionError(FLAG_ERROR, positionals[0]!, 'yurt-tunnel server takes no positional arguments');
  if ((values as Record<string, unknown>).help) return { help: true } as Readonly<ServerOptions> & { help: boolean };
  const raw = withDefaults(DEFAULTS, values);

  const proxyAddress = raw.proxyAddress ? toHostPort('proxy-address', raw.proxyAddress) : undefined;
  const interceptorAddresses = toHostPorts('interceptor-address', raw.interceptorAddress);
  if (!proxyAddress && !raw.proxyUds && interceptorAddresses.length === 0) {
    throw new OptionError(FLAG_ERROR, 'proxy-address', 'no front door: give --proxy-address, --proxy-uds or --interceptor-address');
  }
  if (!/^0?[0-7]{3}$/.test(raw.proxyUdsMode)) throw new OptionError(FLAG_ERROR, 'proxy-uds-mode', `must be an octal file mode such as 0660, got "${raw.proxyUdsMode}"`);
  if (interceptorAddresses.length > 0) {
    required('interceptor-cert-file', raw.interceptorCertFile, 'is required with --interceptor-address');
    required('interceptor-key-file', raw.interceptorKeyFile, 'is required with --interceptor-address');
    required('kubelet-client-cert-file', raw.kubeletClientCertFile, 'is required with --interceptor-address');
    required('kubelet-client-key-file', raw.kubeletClientKeyFile, 'is required with --interceptor-address');
  }
  if ((raw.proxyCertFile === '') !== (raw.proxyKeyFile === '')) throw new OptionError(FLAG_ERROR, 'proxy-key-file', '--proxy-cert-file and --proxy-key-file go together');
  if (raw.kubeconfig && raw.staticNodes) throw new OptionError(FLAG_ERROR, 'static-nodes', 'give --kubeconfig or --static-nodes, not both');

  return deepFreeze({
    agentAddress: toHostPort('agent-address', raw.agentAddress),
    certFile: required('cert-file', raw.certFile),
    keyFile: required('key-file', raw.keyFile),
    caFile: required('ca-file', raw.caFile),
    proxyAddress,
    proxyUds: raw.proxyUds,
    proxyUdsMode: parseInt(raw.proxyUdsMode, 8),
    proxyCertFile: raw.proxyCertFile || raw.certFile,
    proxyKeyFile: raw.proxyKeyFile || raw.keyFile,
    callerCaFile: raw.callerCaFile || raw.caFile,
    allowedCallers: toList(raw.allowedCallers),
    interceptorAddresses,
    interceptorCertFile: raw.interceptorCertFile,
    interceptorKeyFile: raw.interceptorKeyFile,
    kubeletClientCertFile: raw.kubeletClientCertFile,
    kubeletClientKeyFile: raw.kubeletClientKeyFile,
    kubeletCaFile: raw.kubeletCaFile,
    kubeletPort: toInt('kubelet-port', raw.kubeletPort, 1, 65535, FLAG_ERROR),
    kubeconfig: raw.kubeconfig,
    staticNodes: raw.staticNodes ? staticNodes(raw.staticNodes) : undefined,
    serviceCidrs: toCidrs('service-cidr', raw.serviceCidr, CIDR_EXAMPLE),
    podCidrs: toCidrs('pod-cidr', raw.podCidr, CIDR_EXAMPLE),
    cloudNodeCidrs: toCidrs('cloud-node-cidr', raw.cloudNodeCidr, CIDR_EXAMPLE),
    cloudNodes: cloudNodes(raw.cloudNodes, raw.staticNodes),
    directDialTimeoutMs: toDuration('direct-dial-timeout', raw.directDialTimeout, FLAG_ERROR, 100),
    metricsAddress: toHostPort('metrics-address', raw.metricsAddress),
    maxStreamsPerAgent: toInt('max-streams-per-agent', raw.maxStreamsPerAgent, 1, 1 << 20, FLAG_ERROR),
    streamWindow: toInt('stream-window', raw.streamWindow, 16_384, MAX_WINDOW, FLAG_ERROR),
    streamWindowMax: toInt('stream-window-max', raw.streamWindowMax, 16_384, MAX_WINDOW, FLAG_ERROR),
    sessionWindowMax: toInt('session-window-max', raw.sessionWindowMax, 0, 2 ** 40, FLAG_ERROR),
    maxFrameSize: toInt('max-frame-size', raw.maxFrameSize, MIN_MAX_FRAME_SIZE, 1 << 24, FLAG_ERROR),
    openTimeoutMs: toDuration('open-timeout', raw.openTimeout, FLAG_ERROR, 100),
    heartbeatIntervalMs: toDuration('heartbeat-interval', raw.heartbeatInterval, FLAG_ERROR, 100),
    duplicateProbeTimeoutMs: toDuration('duplicate-probe-timeout', raw.duplicateProbeTimeout, FLAG_ERROR, 10),
    drainTimeoutMs: toDuration('drain-timeout', raw.drainTimeout, FLAG_ERROR),
    logLevel: checkLogLevel(raw.logLevel),
  });
}
