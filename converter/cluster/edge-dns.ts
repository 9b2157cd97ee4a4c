/**
 * The edge DNS writes (plan: converter/plan/edge-dns.ts): reading the cluster DNS for the planner,
 * creating, replacing or deleting the edge CoreDNS DaemonSet, annotating kube-dns, and checking both.
 */
import type * as k8s from '@kubernetes/client-node';
import { systemClock, type Clock } from '../../lib/lifecycle.js';
import { DNS_DEPLOYMENT, DNS_NAMESPACE, DNS_SERVICE, EDGE_DNS_NAME, clusterDnsFrom, type ClusterDnsInfo } from '../plan/edge-dns.js';
import { foreignError, isYurtctls } from '../plan/foreign.js';
import type { ClusterState, ForeignInfo, ObjectPlan } from '../plan/model.js';
import type { Progress } from '../ui/progress.js';
import { call, callOptional, mergePatch, statusOf, type Kube } from './kube.js';

export interface DnsRead {
  dns: ClusterDnsInfo;
  /** An edge CoreDNS DaemonSet of yurtctl's name that is not yurtctl's. */
  foreign?: ForeignInfo;
}

/** A read that answers undefined on 404 and records a 403 (the plan says what it could not read, if it needs it). */
export async function readOr403<T>(kube: Kube, what: string, unreadable: string[], fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await callOptional(kube, `read ${what}`, fn);
  } catch (err) {
    if (statusOf((err as { cause?: unknown }).cause) !== 403) throw err;
    unreadable.push(what);
    return undefined;
  }
}

export async function readClusterDns(kube: Kube): Promise<DnsRead> {
  const unreadable: string[] = [];
  const namespace = DNS_NAMESPACE;
  const [deployment, service, daemonSet] = await Promise.all([
    readOr403(kube, `Deployment ${namespace}/${DNS_DEPLOYMENT}`, unreadable, () => kube.apps.readNamespacedDeployment({ name: DNS_DEPLOYMENT, namespace })),
    readOr403(kube, `Service ${namespace}/${DNS_SERVICE}`, unreadable, () => kube.core.readNamespacedService({ name: DNS_SERVICE, namespace })),
    readOr403(kube, `DaemonSet ${namespace}/${EDGE_DNS_NAME}`, unreadable, () => kube.apps.readNamespacedDaemonSet({ name: EDGE_DNS_NAME, namespace })),
  ]);
  const objects = [
    ...(deployment ? [{ ...deployment, kind: 'Deployment' }] : []),
    ...(service ? [{ ...service, kind: 'Service' }] : []),
    ...(daemonSet ? [{ ...daemonSet, kind: 'DaemonSet' }] : []),
  ] as Parameters<typeof clusterDnsFrom>[0];
  const dns = clusterDnsFrom(objects);
  if (unreadable.length) dns.unreadable = unreadable.sort();
  const foreign = daemonSet && !isYurtctls(daemonSet.metadata?.labels)
    ? { kind: 'DaemonSet' as const, namespace, name: EDGE_DNS_NAME, uid: daemonSet.metadata?.uid ?? '' }
    : undefined;
  return { dns, ...(foreign ? { foreign } : {}) };
}

export function withClusterDns(state: ClusterState, read: DnsRead): ClusterState {
  return { ...state, clusterDns: read.dns, foreign: [...state.foreign, ...(read.foreign ? [read.foreign] : [])] };
}

interface DnsContext {
  kube: Kube;
  progress: Pick<Progress, 'info'>;
  clock?: Clock;
}

async function putDaemonSet(ctx: DnsContext, o: ObjectPlan): Promise<void> {
  const { kube } = ctx;
  const { name, namespace } = o;
  const body = o.manifest as k8s.V1DaemonSet;
  if (o.foreign?.replace) {
    // that very object (its uid), not one that took its place since the plan was shown
    await callOptional(kube, `delete DaemonSet ${namespace}/${name}, which is not yurtctl's (--replace-foreign)`, () =>
      kube.apps.deleteNamespacedDaemonSet({ name, namespace, body: { preconditions: { uid: o.foreign!.uid } }, propagationPolicy: 'Foreground' }));
  }
  await call(kube, `write DaemonSet ${namespace}/${name}`, async () => {
    if (o.action === 'update') return kube.apps.replaceNamespacedDaemonSet({ name, namespace, body });
    for (let tries = 0; ; tries++) {
      try {
        return await kube.apps.createNamespacedDaemonSet({ namespace, body });
      } catch (err) {
        if (statusOf(err) !== 409) throw err;
        const there = await kube.apps.readNamespacedDaemonSet({ name, namespace });
        // a replaced one still going away keeps its name for a moment
        if (o.foreign?.replace && there.metadata?.uid === o.foreign.uid && tries < 120) {
          await (ctx.clock ?? systemClock).delay(500);
          continue;
        }
        if (!isYurtctls(there.metadata?.labels)) throw foreignError([o], true);
        // an interrupted run made it: bring it to the plan's spec
        return kube.apps.replaceNamespacedDaemonSet({ name, namespace, body });
      }
    }
  });
}

/** Writes the plan's edge DNS objects (convert's, or revert's deletions and restored annotations). */
export async function applyEdgeDns(ctx: DnsContext, objects: ObjectPlan[]): Promise<void> {
  const { kube, progress } = ctx;
  for (const o of objects) {
    if (o.kind === 'DaemonSet' && o.namespace === DNS_NAMESPACE && o.name === EDGE_DNS_NAME) {
      if (o.action === 'none') continue;
      if (o.action === 'delete') {
        await callOptional(kube, `delete DaemonSet ${o.namespace}/${o.name}`, () => kube.apps.deleteNamespacedDaemonSet({ name: o.name, namespace: o.namespace, propagationPolicy: 'Background' }));
      } else {
        await putDaemonSet(ctx, o);
      }
      progress.info(`  DaemonSet ${o.namespace}/${o.name} (edge CoreDNS): ${o.action === 'delete' ? 'deleted' : o.action === 'update' ? 'updated' : 'created'}`);
    } else if (o.kind === 'Service' && o.annotations?.length) {
      const annotations = Object.fromEntries(o.annotations.map((c) => [c.key, c.to]));
      await call(kube, `annotate Service ${o.namespace}/${o.name}`, () =>
        kube.core.patchNamespacedService({ name: o.name, namespace: o.namespace, body: { metadata: { annotations } } }, mergePatch()));
      progress.info(`  Service ${o.namespace}/${o.name}: ${o.annotations.map((c) => `${c.key}=${c.to ?? '(removed)'}`).join(', ')}`);
    }
  }
}

/** What differs from the plan's edge DNS objects after applying it. */
export function verifyEdgeDns(objects: ObjectPlan[], after: ClusterState): string[] {
  const problems: string[] = [];
  const dns = after.clusterDns ?? {};
  for (const o of objects) {
    if (o.kind === 'DaemonSet' && o.name === EDGE_DNS_NAME) {
      if (o.action === 'delete' && dns.daemonSet) problems.push(`DaemonSet ${o.namespace}/${o.name} is still there`);
      if (o.action !== 'delete' && !dns.daemonSet) problems.push(`DaemonSet ${o.namespace}/${o.name} is missing`);
    } else if (o.kind === 'Service') {
      for (const c of o.annotations ?? []) {
        const now = dns.serviceAnnotations?.[c.key] ?? null;
        if (now !== c.to) problems.push(`Service ${o.namespace}/${o.name}: annotation ${c.key} is ${now ?? '(none)'}, not ${c.to ?? '(none)'}`);
      }
    }
  }
  return problems;
}
