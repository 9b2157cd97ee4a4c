/**
 * `yurtctl node convert` on a node that is already converted: the hub's static pod is brought to what
 * the chart renders now (a new image, new yurthub values). Only the manifest is rewritten — atomically,
 * so kubelet sees the old pod or the new one — and kubelet is not restarted: it replaces a static pod
 * whose manifest changed by itself. kubelet's own files and the conversion's backups stay as they are,
 * so revert still restores every original file byte for byte and removes the manifest.
 *
 * 1 keep the running manifest for a rollback (journal phase `updating`)  2 write the new one
 * 3 wait for the new hub (another process than the old one, answering /v1/healthz)  4 wait until
 * kubelet is Ready through it  5 report `converted` with the new manifest hash. A failure in 3–4 puts
 * the previous manifest back, waits for the old hub and reports `failed`
 * (CNV_ERR_HUB_UPDATE_ROLLED_BACK). A run killed anywhere is finished by running it again.
 */
import { posix } from 'node:path';
import jsYaml from 'js-yaml';
import type { Clock } from '../../lib/lifecycle.js';
import { ConverterErrors } from '../errors.js';
import { hubManifestHash } from '../plan/hub-manifest.js';
import { canonicalJson } from '../../lib/canonical-json.js';
import { ANNOTATION_HUB_HASH, type NodeState } from '../plan/model.js';
import type { NodeApi } from './api.js';
import type { HostFs } from './hostfs.js';
import type { HubUpdate, Journal } from './journal.js';
import { parseKubeconfig, type KubeconfigView } from './kubeconfig.js';
import { detectLayout } from './layout.js';
import { manifestTarget, prepareManifest, type ManifestSource } from './manifest.js';
import type { NodeSideOptions } from './node-side.js';
import { inClusterListener, type InClusterListener } from './hub-address.js';
import { Crash, hubHealthy, waitUntil, type Check, type NodeResult } from './steps.js';

/** What the hub update borrows from NodeSide. */
export interface UpdateContext {
  fs: HostFs;
  clock: Clock;
  options: NodeSideOptions;
  log(line: string): void;
  point(step: string): Promise<void>;
  hubApi(url: string): NodeApi;
  directApi(view: KubeconfigView): NodeApi;
  report(api: NodeApi, state: NodeState, also?: Record<string, string | null>): Promise<void>;
  manifestSource(kubelet: KubeconfigView): Promise<ManifestSource>;
}

/** Whether kubelet would run the same pod: comments (the header names where the manifest came from) do not count. */
function samePod(a: Buffer, b: Buffer): boolean {
  try {
    return canonicalJson(jsYaml.load(a.toString('utf8'))) === canonicalJson(jsYaml.load(b.toString('utf8')));
  } catch {
    return false;
  }
}

async function identity(api: NodeApi): Promise<string | null> {
  if (!api.hubIdentity) return null;
  return (await api.hubIdentity().catch(() => undefined)) ?? null;
}

/**
 * The new hub: healthy, and — when kubelet runs another pod and the old hub's identity is known —
 * another process than the old one (the old hub keeps answering until kubelet has noticed the change).
 */
async function newHubUp(api: NodeApi, url: string, update: HubUpdate): Promise<Check> {
  const health = await hubHealthy(url);
  if (!health.ok) return health;
  if (!update.podChanged || update.oldHub === null) return health;
  const now = await identity(api);
  if (now === null || now === update.oldHub) return { ok: false, why: `the old hub (started ${update.oldHub}) still answers: kubelet has not replaced the static pod yet` };
  return { ok: true, why: `a new hub (started ${now}) answers` };
}

export async function updateHub(journal: Journal, ctx: UpdateContext): Promise<NodeResult> {
  const { fs, options } = ctx;
  const layout = await detectLayout(fs, options.layout);
  const kubeletText = await journal.original(layout.kubeletKubeconfig);
  if (!kubeletText) throw ConverterErrors.CNV_ERR_NODE_LAYOUT(`${layout.kubeletKubeconfig} did not exist before the conversion`);
  const kubelet = parseKubeconfig(kubeletText.toString('utf8'), layout.kubeletKubeconfig);
  const source = await ctx.manifestSource(kubelet);
  const sourceHash = hubManifestHash(source.yaml, source.manifestPath);
  const target = manifestTarget(source, layout.staticPodDir, options.explicitManifestsDir);
  const manifest = await prepareManifest(source, { fs, kubelet, kubeletPath: layout.kubeletKubeconfig, bootstrapToken: options.bootstrapToken, hubPort: options.hubPort, staticPodDir: posix.dirname(target) });
  const running = journal.data.hub?.path ?? target;
  if (target !== running) {
    throw ConverterErrors.CNV_ERR_HUB_UPDATE_REFUSED(`the chart moves the hub manifest from ${running} to ${target}, which kubelet may not read: run \`yurtctl revert\`, then convert again`);
  }
  if (manifest.hubUrl !== journal.data.hubUrl) {
    throw ConverterErrors.CNV_ERR_HUB_UPDATE_REFUSED(`the hub's address changes from ${journal.data.hubUrl} to ${manifest.hubUrl}, and kubelet talks to the old one: run \`yurtctl revert\`, then convert again`);
  }
  const listener = inClusterListener(manifest.text);
  if (canonicalJson(listener ?? null) !== canonicalJson(journal.data.inCluster ?? null)) {
    const describe = (l: InClusterListener | undefined) => (l ? `${l.address}:${l.port}` : 'none');
    throw ConverterErrors.CNV_ERR_HUB_UPDATE_REFUSED(`the hub's TLS listener for in-cluster clients changes from ${describe(journal.data.inCluster)} to ${describe(listener)}, which needs its address and certificate set up on the node: run \`yurtctl revert\`, then convert again`);
  }
  const api = ctx.hubApi(manifest.hubUrl);
  const want = Buffer.from(manifest.text);
  const current = await fs.readIfExists(target);
  // The same pod, even with another header comment (the manifest read from elsewhere): nothing to replace.
  if (!journal.data.update && current && samePod(current, want)) {
    if (journal.data.hub?.sourceHash !== sourceHash) await journal.endUpdate({ path: target, sourceHash });
    ctx.log('already converted: the hub runs the chart\'s manifest');
    await ctx.report(api, 'converted', { [ANNOTATION_HUB_HASH]: sourceHash });
    return { changed: false, summary: 'already converted' };
  }
  if (!current && !journal.data.update) {
    throw ConverterErrors.CNV_ERR_NODE_FILE(`the hub manifest ${target} is gone (removed by hand?): run \`yurtctl node revert\` on the node, then convert again`);
  }

  // 1–2: the manifest that works now is kept, then replaced in one rename.
  const update = await journal.beginUpdate(target, { oldHub: await identity(api), podChanged: !current || !samePod(current, want) }, new Date(ctx.clock.now()));
  ctx.log(`updating the hub: ${journal.data.hub?.sourceHash ?? '(no hash)'} → ${sourceHash}`);
  await ctx.point('hub-update-begun');
  for (const f of manifest.extraFiles) if (await journal.write(f.path, f.content, f.mode)) ctx.log(`wrote ${f.path}`);
  await journal.rememberToRemove(manifest.cacheDir);
  if (await journal.write(target, want, 0o600)) ctx.log(`wrote ${target} (kubelet replaces the static pod; no restart)`);
  await ctx.point('hub-update-written');

  try {
    // 3: the new hub, 4: kubelet Ready through it, as the conversion checks it.
    ctx.log(`waiting for the new yurthub at ${manifest.hubUrl}/v1/healthz`);
    const up = await waitUntil(() => newHubUp(api, manifest.hubUrl, update), options.hubTimeoutMs, options.pollMs, ctx.clock);
    if (!up.ok) throw ConverterErrors.CNV_ERR_HUB_UPDATE_ROLLED_BACK(`the new yurthub did not come up within ${options.hubTimeoutMs / 1000} s (${up.why})`);
    const since = new Date(ctx.clock.now());
    const baseline = api.kubeletRequests ? await api.kubeletRequests().catch(() => 0) : 0;
    const ready = await waitUntil(async () => {
      const r = await api.readiness(options.nodeName, since);
      if (!r.ready) return { ok: false, why: r.why };
      if (api.kubeletRequests) {
        const count = await api.kubeletRequests().catch(() => baseline);
        if (count <= baseline) return { ok: false, why: 'kubelet is Ready but has sent no request through the new yurthub' };
      }
      return { ok: true, why: r.why };
    }, options.kubeletTimeoutMs, options.pollMs, ctx.clock);
    if (!ready.ok) throw ConverterErrors.CNV_ERR_HUB_UPDATE_ROLLED_BACK(`kubelet was not Ready through the new yurthub within ${options.kubeletTimeoutMs / 1000} s: ${ready.why}`);
    await ctx.point('hub-update-ready');
  } catch (err) {
    if (err instanceof Crash) throw err.inner;
    return rollback(journal, ctx, target, manifest.hubUrl, kubelet, err);
  }

  // 5
  await journal.endUpdate({ path: target, sourceHash });
  ctx.log(`hub updated: kubelet is Ready through the new yurthub (manifest ${sourceHash})`);
  await ctx.report(api, 'converted', { [ANNOTATION_HUB_HASH]: sourceHash });
  return { changed: true, summary: 'converted, hub updated' };
}

/** The previous manifest back (kubelet brings the old hub back by itself), then `failed` reported. */
async function rollback(journal: Journal, ctx: UpdateContext, target: string, hubUrl: string, kubelet: KubeconfigView, cause: unknown): Promise<never> {
  const why = (cause as Error)?.message ?? String(cause);
  ctx.log(`failed: ${why}; putting the previous hub manifest back`);
  const previous = await journal.previousManifest();
  await ctx.fs.write(target, previous.data, previous.mode);
  await journal.endUpdate(journal.data.hub);
  const back = await waitUntil(() => hubHealthy(hubUrl), ctx.options.hubTimeoutMs, ctx.options.pollMs, ctx.clock);
  if (!back.ok) ctx.log(`warning: the previous yurthub does not answer yet (${back.why})`);
  await ctx.report(ctx.directApi(kubelet), 'failed');
  throw ConverterErrors.CNV_ERR_HUB_UPDATE_ROLLED_BACK(`${why}; rolled back: the previous hub manifest is in place again`);
}
