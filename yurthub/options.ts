/**
 * yurthub's flags: every default in one literal, validated once, then frozen. Errors name the flag
 * and the rule (`--port: must be between 0 and 65535, got 70000`).
 */
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import path from 'node:path';
import { deepFreeze, helpText, OptionError, parseFlags, toDuration, toInt, toList } from '../lib/options.js';
import { FILTER_NAMES, type FilterName } from './filter/types.js';

export const DEFAULTS = {
  server: '',
  nodeName: '',
  kubeconfig: '',
  clientCert: '',
  clientKey: '',
  caFile: '',
  bootstrapToken: '',
  bindAddress: '127.0.0.1',
  port: '10261',
  securePort: '10268',
  metricsPort: '0',
  metricsBindAddress: '127.0.0.1',
  secureBindAddress: '',
  masterServiceAddress: '',
  disabledResourceFilters: '',
  servingCert: '',
  servingKey: '',
  cacheDir: '/var/lib/yurthub',
  staticPodDir: '/etc/kubernetes/manifests',
  cacheAgents: 'kubelet,kube-proxy,flanneld,coredns,yurthub,yurt-tunnel-agent',
  lbMode: 'rr',
  healthCheckPeriod: '10s',
  healthCheckTimeout: '2s',
  minRequestTimeout: '1800s',
  maxRequestBodyBytes: '3145728',
  requestHistograms: 'true',
  upstreamHttp2: 'true',
  logLevel: 'info',
};

const DESCRIPTIONS: Record<keyof typeof DEFAULTS, string> = {
  server: 'comma-separated apiserver URLs (https://host:port), required',
  nodeName: 'name of the node this hub serves (default: the host name)',
  kubeconfig: "kubeconfig with the node's credentials to the apiserver",
  clientCert: 'client certificate (PEM) for the apiserver, with --client-key and --ca-file',
  clientKey: 'client key (PEM)',
  caFile: 'CA bundle that signs the apiserver serving certificate',
  bootstrapToken: 'bootstrap token to obtain a node client certificate through a CSR',
  bindAddress: 'address the hub listens on',
  port: 'plain HTTP port for local node components (0: off)',
  securePort: 'TLS port for in-cluster clients (0: off; needs --serving-cert/--serving-key)',
  metricsPort: "port of a listener serving only /v1/healthz, /readyz and /metrics, for Prometheus (0: off; OpenYurt's is 10267). /metrics stays on --port too",
  metricsBindAddress: 'address of --metrics-port (the node\'s address or 0.0.0.0 to be scraped from the cloud)',
  secureBindAddress: 'address of the TLS port (default: --bind-address); 169.254.2.1 on a node, on a dummy interface',
  masterServiceAddress: 'ip:port that kubelet\'s view of default/kubernetes points pods at (masterservice filter); default 169.254.2.1:<--secure-port>',
  disabledResourceFilters: `response filters to turn off, comma-separated: ${FILTER_NAMES.join(', ')}`,
  servingCert: 'serving certificate for --secure-port',
  servingKey: 'serving key for --secure-port',
  cacheDir: 'folder of the LevelDB cache',
  staticPodDir: "kubelet's static pod folder, where the OTA API writes a YurtStaticSet's manifest (the hub needs it mounted)",
  cacheAgents: 'components (User-Agent first token) whose responses are cached; * for all',
  lbMode: 'how to pick among healthy servers: rr (round-robin) or priority (first healthy in --server order)',
  healthCheckPeriod: 'how often every server is probed',
  healthCheckTimeout: 'how long one probe may take',
  minRequestTimeout: 'offline watches close after timeoutSeconds, or a random time between this and twice this',
  maxRequestBodyBytes: 'largest request body accepted (the apiserver allows 3 MiB)',
  requestHistograms: 'false: no request latency histograms on /metrics (the request counters stay)',
  upstreamHttp2: 'false: proxied requests over HTTP/1.1, one connection per watch (default: HTTP/2 where the apiserver offers it, one connection per apiserver)',
  logLevel: 'trace, debug, info, warn, error, fatal or silent',
};

const CODE = 'YH_ERR_INVALID_OPTION';

export interface YurthubOptions {
  servers: URL[];
  nodeName: string;
  kubeconfig: string;
  clientCert: string;
  clientKey: string;
  caFile: string;
  bootstrapToken: string;
  bindAddress: string;
  port: number;
  securePort: number;
  metricsPort: number;
  metricsBindAddress: string;
  /** Address of the TLS (in-cluster) listener. */
  secureBindAddress: string;
  /** Where masterservice points kubelet's pods. */
  masterServiceAddress: { host: string; port: number };
  disabledResourceFilters: FilterName[];
  servingCert: string;
  servingKey: string;
  cacheDir: string;
  staticPodDir: string;
  /** Lowercased component names; contains '*' to cache every component. */
  cacheAgents: string[];
  lbMode: 'rr' | 'priority';
  healthCheckPeriodMs: number;
  healthCheckTimeoutMs: number;
  minRequestTimeoutMs: number;
  maxRequestBodyBytes: number;
  requestHistograms: boolean;
  upstreamHttp2: boolean;
  logLevel: string;
}

export function usage(): string {
  return helpText('yurthub', DEFAULTS, DESCRIPTIONS);
}

/** Parses and validates argv. Throws OptionError (YH_ERR_INVALID_OPTION) naming the flag and the rule. */
export function parseOptions(argv: string[]): Readonly<YurthubOptions> & { help?: boolean } {
  const { values, positionals } = parseFlags(argv, DEFAULTS, CODE);
  if (positionals.length) throw new OptionError(CODE, positionals[0]!, 'yurthub takes no positional arguments');
  if ((values as Record<string, unknown>).help) return { help: true } as Readonly<YurthubOptions> & { help: boolean };
  const raw = { ...DEFAULTS } as Record<keyof typeof DEFAULTS, string>;
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string') raw[k as keyof typeof DEFAULTS] = v;

  const servers = toList(raw.server).map((s) => {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw new OptionError(CODE, 'server', `"${s}" is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new OptionError(CODE, 'server', `"${s}" must be an http(s) URL`);
    return url;
  });
  if (servers.length === 0) throw new OptionError(CODE, 'server', 'at least one apiserver URL is required');

  const nodeName = raw.nodeName || hostname().toLowerCase();
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(nodeName)) {
    throw new OptionError(CODE, 'node-name', `"${nodeName}" is not a valid node name (lowercase DNS subdomain)`);
  }

  const credentialSources = [raw.kubeconfig !== '', raw.clientCert !== '' || raw.clientKey !== '', raw.bootstrapToken !== ''].filter(Boolean).length;
  if (credentialSources > 1) throw new OptionError(CODE, 'kubeconfig', 'give one of --kubeconfig, --client-cert/--client-key, --bootstrap-token');
  if ((raw.clientCert === '') !== (raw.clientKey === '')) throw new OptionError(CODE, 'client-key', '--client-cert and --client-key go together');
  if (raw.bootstrapToken && !/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(raw.bootstrapToken)) {
    throw new OptionError(CODE, 'bootstrap-token', 'must have the form [a-z0-9]{6}.[a-z0-9]{16}');
  }
  if (isIP(raw.bindAddress) === 0) throw new OptionError(CODE, 'bind-address', `"${raw.bindAddress}" is not an IP address`);

  const port = toInt('port', raw.port, 0, 65535, CODE);
  const securePort = toInt('secure-port', raw.securePort, 0, 65535, CODE);
  if (port === 0 && securePort === 0) throw new OptionError(CODE, 'port', 'at least one of --port and --secure-port must be set');
  if (port !== 0 && port === securePort) throw new OptionError(CODE, 'secure-port', 'must differ from --port');
  if ((raw.servingCert === '') !== (raw.servingKey === '')) throw new OptionError(CODE, 'serving-key', '--serving-cert and --serving-key go together');
  const metricsPort = toInt('metrics-port', raw.metricsPort, 0, 65535, CODE);
  if (metricsPort !== 0 && (metricsPort === port || metricsPort === securePort)) throw new OptionError(CODE, 'metrics-port', 'must differ from --port and --secure-port');
  if (isIP(raw.metricsBindAddress) === 0) throw new OptionError(CODE, 'metrics-bind-address', `"${raw.metricsBindAddress}" is not an IP address`);

  const secureBindAddress = raw.secureBindAddress || raw.bindAddress;
  if (isIP(secureBindAddress) === 0) throw new OptionError(CODE, 'secure-bind-address', `"${secureBindAddress}" is not an IP address`);
  const masterServiceAddress = parseHostPort(raw.masterServiceAddress || `169.254.2.1:${securePort || 10268}`);
  const disabledResourceFilters = toList(raw.disabledResourceFilters).map((name) => {
    if (!(FILTER_NAMES as readonly string[]).includes(name)) throw new OptionError(CODE, 'disabled-resource-filters', `unknown filter "${name}" (known: ${FILTER_NAMES.join(', ')})`);
    return name as FilterName;
  });

  const lbMode = raw.lbMode;
  if (lbMode !== 'rr' && lbMode !== 'priority') throw new OptionError(CODE, 'lb-mode', `must be rr or priority, got "${lbMode}"`);
  const cacheAgents = toList(raw.cacheAgents.toLowerCase());
  if (!raw.cacheDir) throw new OptionError(CODE, 'cache-dir', 'must not be empty');
  const cacheDir = path.resolve(raw.cacheDir);
  if (!path.isAbsolute(raw.staticPodDir)) throw new OptionError(CODE, 'static-pod-dir', `must be an absolute path, got "${raw.staticPodDir}"`);
  // The hub makes its cache folder owner-only, recursively: a system folder there would be walked and chmod'ed.
  if (cacheDir === '/' || /^\/(proc|sys|dev)(\/|$)/.test(cacheDir)) throw new OptionError(CODE, 'cache-dir', `"${raw.cacheDir}" is a system folder (/, /proc, /sys, /dev): give a folder of its own on a disk`);
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(raw.logLevel)) {
    throw new OptionError(CODE, 'log-level', `unknown level "${raw.logLevel}"`);
  }

  return deepFreeze({
    servers,
    nodeName,
    kubeconfig: raw.kubeconfig,
    clientCert: raw.clientCert,
    clientKey: raw.clientKey,
    caFile: raw.caFile,
    bootstrapToken: raw.bootstrapToken,
    bindAddress: raw.bindAddress,
    port,
    securePort,
    metricsPort,
    metricsBindAddress: raw.metricsBindAddress,
    secureBindAddress,
    masterServiceAddress,
    disabledResourceFilters,
    servingCert: raw.servingCert,
    servingKey: raw.servingKey,
    cacheDir: raw.cacheDir,
    staticPodDir: path.resolve(raw.staticPodDir),
    cacheAgents,
    lbMode,
    healthCheckPeriodMs: toDuration('health-check-period', raw.healthCheckPeriod, CODE, 100),
    healthCheckTimeoutMs: toDuration('health-check-timeout', raw.healthCheckTimeout, CODE, 10),
    minRequestTimeoutMs: toDuration('min-request-timeout', raw.minRequestTimeout, CODE, 1000),
    maxRequestBodyBytes: toInt('max-request-body-bytes', raw.maxRequestBodyBytes, 1024, 1 << 30, CODE),
    requestHistograms: raw.requestHistograms === 'true',
    upstreamHttp2: raw.upstreamHttp2 === 'true',
    logLevel: raw.logLevel,
  });
}

/** `ip:port` or `[ipv6]:port`, for --master-service-address. */
function parseHostPort(value: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:]+):(\d+)$/.exec(value);
  if (!m || isIP(m[1]!) === 0) throw new OptionError(CODE, 'master-service-address', `must be ip:port (or [ipv6]:port), got "${value}"`);
  return { host: m[1]!, port: toInt('master-service-address', m[2]!, 1, 65535, CODE) };
}
