/**
 * Writes to a namespace's Leases, replayed by a watch from a resourceVersion: how the converter suites
 * prove that a run took no lock (a Lease created and deleted again leaves no other trace).
 */
export type Kubectl = (args: string[]) => Promise<string>;

interface Item {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
}

/** Leases the control plane itself renews all the time (the apiserver's identity lease). */
export const renewedByControlPlane = (o: Item): boolean => o.kind === 'Lease' && o.metadata.labels?.['apiserver.kubernetes.io/identity'] !== undefined;

/** The resourceVersion to replay the Leases' writes from: the apiserver's own list, not kubectl's (which has none). */
export async function leasesNow(kubectl: Kubectl, namespace: string): Promise<string> {
  const rv = (JSON.parse(await kubectl(['get', '--raw', `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`])) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
  if (!/^\d+$/.test(rv)) throw new Error(`no resourceVersion to replay Lease writes from: ${rv}`);
  return rv;
}

/** Every write to a Lease of the namespace since `rv` (`ADDED yurtctl-lock`), but the apiserver's own renewals. */
export async function leaseWritesSince(kubectl: Kubectl, namespace: string, rv: string): Promise<string[]> {
  const raw = await kubectl(['get', '--raw', `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases?watch=1&resourceVersion=${rv}&timeoutSeconds=2`]);
  const events = raw.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; object: Item });
  const error = events.find((e) => e.type === 'ERROR');
  if (error) throw new Error(`the watch from ${rv} could not replay: ${JSON.stringify(error.object)}`);
  return events.filter((e) => !renewedByControlPlane(e.object)).map((e) => `${e.type} ${e.object.metadata.name}`);
}
