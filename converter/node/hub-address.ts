/**
 * The hub's TLS listener for in-cluster clients, on the node (issue 14). The chart's manifest asks for
 * it (`--secure-bind-address`, `--serving-cert`; charts/yurthub `inCluster`); the node side makes what
 * that needs exist before the hub starts:
 *
 * - the address on a dummy interface of its own (`yurthub-dummy0`, OpenYurt's name and address,
 *   169.254.2.1/32: link-local, reachable from the node and its pods, never routed off it), made now
 *   and again at every start of kubelet's service by an `ExecStartPre=` drop-in, so it is there after
 *   a reboot before kubelet starts the hub's static pod. The hub itself runs without capabilities;
 *   creating an interface needs CAP_NET_ADMIN, which the node Job has. A kernel built without dummy
 *   interfaces (CONFIG_DUMMY unset: some VM kernels, this project's CI machine) gets the address on
 *   the loopback interface instead (label `lo:yurthub`): Linux delivers a packet to any local address
 *   whatever interface holds it, so pods reach it the same way.
 * - a serving certificate the pods trust: they check the apiserver's name against the cluster CA
 *   (their ServiceAccount's ca.crt), so it is requested from the cluster's kubelet-serving signer,
 *   with kubelet's own identity (O=system:nodes, CN=system:node:<node>, the address as its only SAN).
 *   Nothing in Kubernetes approves those automatically; `yurtctl convert` approves exactly these
 *   while it waits for the node sides (converter/cluster/hub-serving.ts).
 */
import { webcrypto } from 'node:crypto';
import jsYaml from 'js-yaml';
import { NODES_GROUP, nodeUser } from '../../lib/certificate/csr.js';
import { x509 } from '../../lib/certificate/x509.js';
import type { Clock } from '../../lib/lifecycle.js';
import { ConverterErrors } from '../errors.js';
import type { NodeApi } from './api.js';
import type { Layout, SwitchFile } from './layout.js';
import { waitUntil } from './steps.js';

export const DUMMY_INTERFACE = 'yurthub-dummy0';
export const SERVING_SIGNER = 'kubernetes.io/kubelet-serving';
export const SERVING_USAGES = ['digital signature', 'server auth'];
/** CSR names: the cloud side approves only these, and only from the node they name. */
export const SERVING_CSR_PREFIX = 'yurthub-serving-';
const ADDRESS_DROP_IN = '98-yurt-edge-hub-address.conf';
const HEADER = 'Written by yurtctl node convert (yurt-edge): the address of yurthub\'s TLS listener for in-cluster clients. `yurtctl node revert` removes it.';

export interface InClusterListener {
  address: string;
  port: number;
  certFile: string;
  keyFile: string;
}

function argValue(args: string[], flag: string): string | undefined {
  const a = args.find((x) => x.startsWith(`${flag}=`));
  return a === undefined ? undefined : a.slice(flag.length + 1);
}

/** The TLS listener the prepared manifest asks for; undefined without one (no serving certificate). */
export function inClusterListener(manifestText: string): InClusterListener | undefined {
  const pod = jsYaml.load(manifestText) as { spec?: { containers?: Array<{ name?: string; args?: string[] }> } };
  const c = pod?.spec?.containers?.find((x) => x.name === 'yurthub') ?? pod?.spec?.containers?.[0];
  const args = c?.args ?? [];
  const certFile = argValue(args, '--serving-cert');
  const keyFile = argValue(args, '--serving-key');
  const address = argValue(args, '--secure-bind-address');
  if (!certFile || !keyFile) return undefined;
  if (!address || !/^\d+\.\d+\.\d+\.\d+$/.test(address)) {
    throw ConverterErrors.CNV_ERR_USAGE(`the yurthub manifest has a serving certificate but --secure-bind-address is ${address ?? 'missing'}: give the chart's inCluster.address an IPv4 address`);
  }
  return { address, port: Number(argValue(args, '--secure-port') ?? 10268), certFile, keyFile };
}

/** Where the address goes when the kernel has no dummy interfaces. */
export const LOOPBACK_LABEL = 'lo:yurthub';

/**
 * A shell line (the host's /bin/sh and ip) that puts the address on the dummy interface, made if
 * missing — or on loopback when the kernel cannot make one — whatever was there before.
 */
function addAddressScript(address: string): string {
  const d = DUMMY_INTERFACE;
  return `ip link show ${d} >/dev/null 2>&1 || ip link add ${d} type dummy 2>/dev/null; `
    + `if ip link show ${d} >/dev/null 2>&1; then ip addr replace ${address}/32 dev ${d} && ip link set ${d} up; `
    + `else ip addr replace ${address}/32 dev lo label ${LOOPBACK_LABEL}; fi`;
}

export function addAddressCommand(address: string): string[] {
  return ['/bin/sh', '-c', addAddressScript(address)];
}

/** Undoes addAddressCommand: the interface, or the address on loopback. */
export function removeAddressCommand(address: string): string[] {
  return ['/bin/sh', '-c', `if ip link show ${DUMMY_INTERFACE} >/dev/null 2>&1; then ip link del ${DUMMY_INTERFACE}; fi; `
    + `if ip -o addr show dev lo to ${address}/32 | grep -q .; then ip addr del ${address}/32 dev lo; fi`];
}

/** The service that runs kubelet under systemd (kubelet, k3s-agent, k3s); undefined for `custom`. */
function kubeletService(layout: Layout): string | undefined {
  if (layout.kind === 'custom') return undefined;
  const restart = layout.restart.find((c) => c[1] === 'restart');
  const unit = restart?.[2];
  return unit ? (unit.endsWith('.service') ? unit : `${unit}.service`) : undefined;
}

/** The drop-in that makes the address again at every start of kubelet's service (undefined: no systemd service known). */
export function addressDropIn(layout: Layout, address: string): SwitchFile | undefined {
  const service = kubeletService(layout);
  if (!service) return undefined;
  // `-`: a failure must not keep kubelet from starting (the hub's listener then fails, not the node).
  return {
    path: `/etc/systemd/system/${service}.d/${ADDRESS_DROP_IN}`,
    content: `# ${HEADER}\n[Service]\nExecStartPre=-/bin/sh -c '${addAddressScript(address)}'\n`,
    mode: 0o644,
  };
}

export interface ServingPair {
  certPem: string;
  keyPem: string;
}

/** ECDSA P-256 key and a request kube-controller-manager's kubelet-serving signer accepts. */
export async function servingRequest(nodeName: string, address: string): Promise<{ csrPem: string; keyPem: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256' } as const;
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ O: [NODES_GROUP] }, { CN: [nodeUser(nodeName)] }],
    keys,
    signingAlgorithm: { ...alg, hash: 'SHA-256' },
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: address }])],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { csrPem: csr.toString('pem'), keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

/** Whether a certificate (PEM) is for this address and valid for at least another day. */
export function servingCertFits(certPem: string, address: string, now: number): boolean {
  try {
    const cert = new x509.X509Certificate(certPem);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    const ips = san?.names.items.filter((n) => n.type === 'ip').map((n) => n.value) ?? [];
    return ips.includes(address) && cert.notAfter.getTime() > now + 24 * 3600_000;
  } catch {
    return false;
  }
}

export interface IssueContext {
  api: NodeApi;
  nodeName: string;
  address: string;
  timeoutMs: number;
  pollMs: number;
  clock: Clock;
  log(line: string): void;
}

/** Requests the serving certificate with kubelet's identity and waits until it is issued. */
export async function issueServingCertificate(ctx: IssueContext): Promise<ServingPair> {
  const { api } = ctx;
  if (!api.requestCertificate || !api.issuedCertificate) throw ConverterErrors.CNV_ERR_INTERNAL(`${api.describe} cannot request certificates`);
  const { csrPem, keyPem } = await servingRequest(ctx.nodeName, ctx.address);
  const name = `${SERVING_CSR_PREFIX}${ctx.nodeName}-${Buffer.from(webcrypto.getRandomValues(new Uint8Array(4))).toString('hex')}`;
  try {
    await api.requestCertificate(name, csrPem, SERVING_SIGNER, SERVING_USAGES);
  } catch (err) {
    throw ConverterErrors.CNV_ERR_UNREACHABLE(`cannot create the CertificateSigningRequest ${name} for yurthub's serving certificate with kubelet's credentials: ${(err as Error).message.split('\n')[0]}`);
  }
  ctx.log(`waiting for CertificateSigningRequest ${name} (yurthub's serving certificate for ${ctx.address}): \`yurtctl convert\` approves it; by hand: kubectl certificate approve ${name}`);
  let certPem = '';
  const issued = await waitUntil(async () => {
    const state = await api.issuedCertificate!(name).catch((err: unknown) => ({ denied: undefined, certificate: undefined, error: (err as Error).message }));
    if (state.denied) return { ok: true, why: `denied: ${state.denied}` };
    if (state.certificate) {
      certPem = state.certificate;
      return { ok: true, why: 'issued' };
    }
    return { ok: false, why: 'error' in state ? String(state.error) : 'not approved yet' };
  }, ctx.timeoutMs, ctx.pollMs, ctx.clock);
  if (!certPem) {
    throw ConverterErrors.CNV_ERR_HUB_UNHEALTHY(`yurthub's serving certificate (CertificateSigningRequest ${name}) was not issued within ${ctx.timeoutMs / 1000} s: ${issued.why}`);
  }
  return { certPem, keyPem };
}
