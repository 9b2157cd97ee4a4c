/**
 * The node's other API clients, pointed at the hub next to kubelet (issue 14): without this, kube-proxy
 * keeps talking to the cloud, and an edge node rebooted offline has pods but no Service routing.
 *
 * kube-proxy as a systemd service (kube-proxy.service, with a kubeconfig or a --config file naming one):
 * a drop-in of ours restates its ExecStart with `--master=<the hub's plain URL>`. kube-proxy applies
 * --master over whatever its kubeconfig says (its own flag, read apart from --config), so neither its
 * config file nor its kubeconfig is touched, and revert is the removal of one file. Over plain HTTP
 * client-go sends no client certificate: the hub forwards kube-proxy's requests with the node's
 * identity (the chart grants system:nodes read access to EndpointSlices and Endpoints, the one thing
 * kube-proxy reads that the Node authorizer does not give a node), caches them under the component
 * `kube-proxy`, and applies the response filters (servicetopology, discardcloudservice,
 * nodeportisolation) to them.
 *
 * kube-proxy as kubeadm's DaemonSet needs no file on the node: the hub's inclusterconfig filter serves
 * its ConfigMap without the kubeconfig line, so it uses in-cluster config, which masterservice points
 * at the hub's TLS listener. Its pod reads both at start, so the node side deletes this node's
 * kube-proxy pods (a node may delete pods bound to it) once kubelet uses the hub, and again at revert;
 * the DaemonSet makes them anew.
 */
import { ConverterErrors } from '../errors.js';
import type { HostFs } from './hostfs.js';
import { effectiveService, OWN_DROP_IN_NAME, type SwitchFile } from './layout.js';
import { splitWords, withoutFlags } from './systemd.js';

export const KUBE_PROXY_SERVICE = 'kube-proxy.service';
/** Pods of this node that read the apiserver address (and kube-proxy its ConfigMap) at start: restarted onto the hub's TLS listener. */
export interface PodGroup {
  namespace: string;
  selector: string;
}
/** kubeadm's kube-proxy DaemonSet: its pods on this node, restarted so they read their ConfigMap through the hub. */
export const KUBE_PROXY_PODS: PodGroup = { namespace: 'kube-system', selector: 'k8s-app=kube-proxy' };
/** The cluster DNS (CoreDNS as kubeadm labels it) on this node: restarted so it lists through the hub, whose cache then has its data for an offline reboot. */
export const CLUSTER_DNS_PODS: PodGroup = { namespace: 'kube-system', selector: 'k8s-app=kube-dns' };
export const KUBE_PROXY_DROP_IN = `/etc/systemd/system/${KUBE_PROXY_SERVICE}.d/${OWN_DROP_IN_NAME}`;
const HEADER = 'Written by yurtctl node convert (yurt-edge): kube-proxy reaches the apiserver through yurthub. `yurtctl node revert` removes it.';

/** A node component rewired to the hub: the files that do it, and how to make it read them. */
export interface ServiceWiring {
  /** The component as the hub counts it (the User-Agent's first token). */
  component: string;
  describe: string;
  files: SwitchFile[];
  /** Host commands that make the component use the files (and, after revert, the originals). */
  restart: string[][];
}

/** One word of an ExecStart line, quoted as systemd reads it back (splitWords). */
function quoteWord(word: string): string {
  return /^[^\s"'\\]+$/.test(word) ? word : `"${word.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** kube-proxy as a systemd service, through the hub; undefined when the node runs no kube-proxy.service. */
export async function kubeProxyWiring(fs: HostFs, hubUrl: string): Promise<ServiceWiring | undefined> {
  const svc = await effectiveService(fs, KUBE_PROXY_SERVICE);
  if (!svc) return undefined;
  const prefix = /^[-@:+!]*/.exec(svc.execStart)?.[0] ?? '';
  const words = splitWords(svc.execStart.slice(prefix.length));
  if (!words.length) throw ConverterErrors.CNV_ERR_NODE_LAYOUT(`${KUBE_PROXY_SERVICE} has no ExecStart: cannot point kube-proxy at yurthub`);
  if (!/(^|\/)kube-proxy$/.test(words[0]!)) {
    throw ConverterErrors.CNV_ERR_NODE_LAYOUT(`${KUBE_PROXY_SERVICE} starts ${words[0]}, not kube-proxy: cannot point it at yurthub (it would need --master=${hubUrl})`);
  }
  const execStart = [...withoutFlags(words, ['--master']), `--master=${hubUrl}`].map(quoteWord).join(' ');
  return {
    component: 'kube-proxy',
    describe: `kube-proxy (${KUBE_PROXY_SERVICE}, --master=${hubUrl} in ${KUBE_PROXY_DROP_IN})`,
    // `ExecStart=` first: a service has one ExecStart, and a drop-in's replaces the unit's only after a reset.
    files: [{ path: KUBE_PROXY_DROP_IN, content: `# ${HEADER}\n[Service]\nExecStart=\nExecStart=${prefix}${execStart}\n`, mode: 0o644 }],
    restart: [['systemctl', 'daemon-reload'], ['systemctl', 'restart', KUBE_PROXY_SERVICE]],
  };
}
