/**
 * DNS that keeps answering offline (issue 14): a CoreDNS on every edge node, reading through the hub,
 * and the cluster DNS Service narrowed by the hub's servicetopology filter so each edge node's
 * kube-proxy sends DNS to its own node's (or pool's) CoreDNS. OpenYurt's recommendation, made by
 * yurtctl: the edge CoreDNS is a DaemonSet copied from the cluster's own CoreDNS Deployment (its image,
 * Corefile ConfigMap, ServiceAccount), on the nodes convert labels edge, on the node's network (a pod
 * IP does not survive an offline reboot with host-local IPAM; docs/converter.md, "Offline reboot and
 * pod IPs"); `kube-dns` gets `openyurt.io/topologyKeys`, its previous value recorded for revert.
 *
 * Cloud nodes run no hub: their kube-proxy sees every kube-dns endpoint, the edge ones included
 * (as in OpenYurt). Pure planning here; the writes are converter/cluster/edge-dns.ts.
 */
import { ConverterErrors } from '../errors.js';
import { hashSpec } from './job.js';
import { ANNOTATION_SPEC_HASH, LABEL_EDGE_WORKER, LABEL_MANAGED_BY, MANAGED_BY, type AccessCheck, type Change, type ConversionRecord, type ObjectPlan } from './model.js';

/** kubeadm's (and k3s's) names for the cluster DNS. */
export const DNS_NAMESPACE = 'kube-system';
export const DNS_DEPLOYMENT = 'coredns';
export const DNS_SERVICE = 'kube-dns';
export const EDGE_DNS_NAME = 'yurt-edge-coredns';
/** The edge CoreDNS pods' own label, the DaemonSet's selector (the copied labels keep kube-dns selecting them). */
export const LABEL_EDGE_DNS = 'yurt-edge.io/dns';
export const ANNOTATION_TOPOLOGY = 'openyurt.io/topologyKeys';
export const TOPOLOGY_KEY = { node: 'kubernetes.io/hostname', pool: 'openyurt.io/nodepool' } as const;

export type EdgeDnsMode = 'node' | 'pool' | 'off';
export const EDGE_DNS_MODES = ['auto', 'node', 'pool', 'off'] as const;

/** The cluster's CoreDNS as yurtctl finds it (kube-system/coredns, kube-system/kube-dns) and its edge copy. */
export interface ClusterDnsInfo {
  /** The CoreDNS Deployment's pod template; undefined: no such Deployment. */
  template?: Record<string, unknown>;
  /** kube-dns's annotations; undefined: no such Service. */
  serviceAnnotations?: Record<string, string>;
  /** yurtctl's edge CoreDNS DaemonSet, if there (someone else's of that name is a foreign object). */
  daemonSet?: { specHash: string };
  /** What this user may not read (403), named for the message. */
  unreadable?: string[];
}

/** What the plan does about edge DNS (to the plan's objects and record). */
export interface EdgeDnsPlan {
  objects: ObjectPlan[];
  /** What revert will undo; undefined when nothing of edge DNS is (or stays) in the cluster. */
  record: ConversionRecord['edgeDns'];
  warnings: string[];
}

type Values = Record<string, unknown>;
const section = (v: unknown): Values => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Values) : {});

/**
 * The chart value `edgeDNS.mode`: node (a CoreDNS per edge node, kube-dns narrowed to the node), pool
 * (narrowed to the node's pool), off, or auto (the default): node when the hub's TLS listener is on
 * (`yurthub.inCluster.enabled`), since only then does the edge CoreDNS list through the hub and start
 * from its cache offline; off otherwise. `explicit`: the user chose it (a missing CoreDNS is then an error).
 */
export function edgeDnsMode(values: Values): { mode: EdgeDnsMode; explicit: boolean } {
  const raw = section(values.edgeDNS).mode ?? 'auto';
  if (typeof raw !== 'string' || !(EDGE_DNS_MODES as readonly string[]).includes(raw)) {
    throw ConverterErrors.CNV_ERR_BAD_VALUES(`edgeDNS.mode=${JSON.stringify(raw)}: must be one of ${EDGE_DNS_MODES.join(', ')}`);
  }
  if (raw !== 'auto') return { mode: raw as EdgeDnsMode, explicit: true };
  const hub = section(values.yurthub);
  return { mode: hub.enabled !== false && section(hub.inCluster).enabled === true ? 'node' : 'off', explicit: false };
}

/** The edge CoreDNS DaemonSet: the Deployment's pod template, on edge nodes, on the node's network. */
export function edgeDnsDaemonSet(template: Values): Record<string, unknown> {
  const meta = section(template.metadata);
  const { affinity: _a, nodeName: _n, topologySpreadConstraints: _t, nodeSelector: _s, tolerations: _o, ...spec } = section(template.spec);
  const labels = { ...(section(meta.labels) as Record<string, string>), [LABEL_EDGE_DNS]: 'edge' };
  const body = {
    selector: { matchLabels: { [LABEL_EDGE_DNS]: 'edge' } },
    updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
    template: {
      metadata: { ...meta, labels },
      spec: {
        ...spec,
        hostNetwork: true,
        // CoreDNS forwards what is not the cluster's to the node's resolver, as kubeadm's does.
        dnsPolicy: 'Default',
        nodeSelector: { [LABEL_EDGE_WORKER]: 'true' },
        // DNS is wanted on every edge node, tainted or not (the nodeSelector alone chooses them).
        tolerations: [{ operator: 'Exists' }],
      },
    },
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: {
      name: EDGE_DNS_NAME,
      namespace: DNS_NAMESPACE,
      labels: { [LABEL_MANAGED_BY]: MANAGED_BY },
      annotations: { [ANNOTATION_SPEC_HASH]: hashSpec(body), 'yurt-edge.io/copied-from': `Deployment ${DNS_NAMESPACE}/${DNS_DEPLOYMENT}` },
    },
    spec: body,
  };
}

/** The parts of the cluster DNS objects the planner reads (live objects and fixture YAML alike). */
export function clusterDnsFrom(objects: Array<{ kind?: string; metadata?: { name?: string; namespace?: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: unknown }>): ClusterDnsInfo {
  const info: ClusterDnsInfo = {};
  for (const o of objects) {
    const m = o.metadata ?? {};
    if (m.namespace !== DNS_NAMESPACE) continue;
    if (o.kind === 'Deployment' && m.name === DNS_DEPLOYMENT) info.template = structuredClone(section(section(o.spec).template));
    else if (o.kind === 'Service' && m.name === DNS_SERVICE) info.serviceAnnotations = { ...(m.annotations ?? {}) };
    else if (o.kind === 'DaemonSet' && m.name === EDGE_DNS_NAME && m.labels?.[LABEL_MANAGED_BY] === MANAGED_BY) info.daemonSet = { specHash: m.annotations?.[ANNOTATION_SPEC_HASH] ?? '' };
  }
  return info;
}

const serviceRef = { apiVersion: 'v1', kind: 'Service', namespace: DNS_NAMESPACE, name: DNS_SERVICE };

/** Annotation changes that bring `current` to `desired` (null: absent). */
function annotationChanges(current: Record<string, string>, desired: Record<string, string | null>): Change[] {
  return Object.entries(desired).filter(([k, v]) => (current[k] ?? null) !== v).map(([key, to]) => ({ key, from: current[key] ?? null, to }));
}

/** Back to before: the DaemonSet deleted, kube-dns's annotations as recorded. Shared by revert and by a rerun that turns edge DNS off. */
export function undoEdgeDns(dns: ClusterDnsInfo, recorded: NonNullable<ConversionRecord['edgeDns']>): ObjectPlan[] {
  const out: ObjectPlan[] = [];
  if (dns.daemonSet) out.push({ apiVersion: 'apps/v1', kind: 'DaemonSet', namespace: DNS_NAMESPACE, name: recorded.daemonSet, action: 'delete' });
  const annotations = dns.serviceAnnotations ? annotationChanges(dns.serviceAnnotations, recorded.annotations) : [];
  if (annotations.length) out.push({ ...serviceRef, action: 'update', annotations });
  return out;
}

/** Convert's part: the DaemonSet as the Deployment says now, kube-dns annotated; or, turned off, undone. */
export function planEdgeDns(dns: ClusterDnsInfo, values: Values, recorded: ConversionRecord['edgeDns']): EdgeDnsPlan {
  const { mode, explicit } = edgeDnsMode(values);
  const off = (warnings: string[] = []): EdgeDnsPlan => {
    const objects = recorded ? undoEdgeDns(dns, recorded) : [];
    // Kept while something is left to undo: a run stopped half-way is finished by the next (or by revert).
    return { objects, record: objects.length ? recorded : undefined, warnings };
  };
  if (mode === 'off') return off();
  const source = `Deployment ${DNS_NAMESPACE}/${DNS_DEPLOYMENT}`;
  if (dns.unreadable?.length) {
    throw ConverterErrors.CNV_ERR_FORBIDDEN(`edge DNS (edgeDNS.mode=${explicit ? mode : 'auto'}) needs to read ${dns.unreadable.join(', ')}: grant it, or set edgeDNS.mode=off`);
  }
  const missing = !dns.template ? source : dns.serviceAnnotations === undefined ? `Service ${DNS_NAMESPACE}/${DNS_SERVICE}` : undefined;
  if (missing) {
    if (explicit) throw ConverterErrors.CNV_ERR_BAD_VALUES(`edgeDNS.mode=${mode}: the cluster has no ${missing} to make the edge CoreDNS from; set edgeDNS.mode=off`);
    return off([`no ${missing}: no edge CoreDNS deployed, DNS on edge nodes stops answering offline (edgeDNS.mode=off silences this)`]);
  }
  const manifest = edgeDnsDaemonSet(dns.template!);
  const hash = ((manifest.metadata as { annotations: Record<string, string> }).annotations)[ANNOTATION_SPEC_HASH];
  const objects: ObjectPlan[] = [{
    apiVersion: 'apps/v1', kind: 'DaemonSet', namespace: DNS_NAMESPACE, name: EDGE_DNS_NAME, manifest,
    action: !dns.daemonSet ? 'create' : dns.daemonSet.specHash !== hash ? 'update' : 'none',
  }];
  const current = dns.serviceAnnotations!;
  const annotations = annotationChanges(current, { [ANNOTATION_TOPOLOGY]: TOPOLOGY_KEY[mode] });
  objects.push({ ...serviceRef, action: annotations.length ? 'update' : 'none', annotations });
  // The value before the first convert that set it is kept across reruns: revert restores that one.
  const original = recorded?.annotations ?? { [ANNOTATION_TOPOLOGY]: current[ANNOTATION_TOPOLOGY] ?? null };
  return { objects, record: { daemonSet: EDGE_DNS_NAME, annotations: original }, warnings: [] };
}

/** The rights the edge DNS objects of a plan need (convert's and revert's alike). */
export function edgeDnsRights(objects: ObjectPlan[]): AccessCheck[] {
  const out: AccessCheck[] = [];
  const ds = objects.filter((o) => o.kind === 'DaemonSet' && o.action !== 'none');
  const verbs = new Set(ds.flatMap((o) => (o.action === 'create' ? ['create'] : o.action === 'update' ? ['update'] : ['delete'])));
  if (ds.length) for (const verb of ['get', ...verbs]) out.push({ verb, group: 'apps', resource: 'daemonsets', namespace: DNS_NAMESPACE });
  if (objects.some((o) => o.kind === 'Service' && o.action === 'update')) for (const verb of ['get', 'patch']) out.push({ verb, group: '', resource: 'services', namespace: DNS_NAMESPACE });
  return out;
}
