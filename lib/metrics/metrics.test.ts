import { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ControllerMetrics } from './controller.js';
import { BoundedLabel, KNOWN_COMPONENTS, ResourceLabel, resourceLabel, statusClass } from './labels.js';
import { programRegistry, scrapedGauges } from './registry.js';

const series = async (registry: ReturnType<typeof programRegistry>, name: string) => (await registry.getSingleMetric(name)!.get()).values;

describe('lib/metrics', () => {
  it('exposes the standard process and Node.js metrics under their standard names, no prefix', async () => {
    const text = await programRegistry().metrics();
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_version_info']) {
      expect(text).toMatch(new RegExp(`^${name}(\\{[^}]*\\})? `, 'm'));
    }
    expect(text).not.toMatch(/^\w+_process_cpu/m);
    expect(await programRegistry({ defaultMetrics: false }).metrics()).toBe('\n');
  });

  it('bounds resources to a known set and components to the known ones plus a few more', () => {
    expect(resourceLabel({ isResourceRequest: true, resource: 'pods', subresource: 'status' })).toBe('pods/status');
    expect(resourceLabel({ isResourceRequest: true, resource: 'widgets', subresource: '' })).toBe('other');
    expect(resourceLabel({ isResourceRequest: true, resource: 'pods', subresource: 'x1' })).toBe('pods/other');
    expect(resourceLabel({ isResourceRequest: false, resource: '', subresource: '' })).toBe('nonresource');
    const label = new BoundedLabel(KNOWN_COMPONENTS, 2);
    expect(['kubelet', 'edge-app', 'b', 'c', 'edge-app', 'Bad Name!', 'kube-proxy'].map((v) => label.value(v))).toEqual(['kubelet', 'edge-app', 'b', 'other', 'edge-app', 'other', 'kube-proxy']);
    expect([200, 304, 404, 503, undefined, 0].map(statusClass)).toEqual(['2xx', '3xx', '4xx', '5xx', 'error', 'error']);
  });

  it('names a custom resource once it was answered with a success, for the first few such', () => {
    const label = new ResourceLabel(2);
    const req = (resource: string, subresource = '') => ({ isResourceRequest: true, resource, subresource });
    expect(label.value(req('widgets'), 404)).toBe('other');
    expect(label.value(req('widgets'), 200)).toBe('widgets');
    expect(label.value(req('widgets'), 503)).toBe('widgets');
    expect(label.value(req('widgets', 'status'), 200)).toBe('widgets/status');
    expect(label.value(req('typo'), 404)).toBe('other');
    expect(label.value(req('gadgets'), 201)).toBe('gadgets');
    expect(label.value(req('gizmos'), 200)).toBe('other');
    expect(label.value(req('Bad Name'), 200)).toBe('other');
    expect(label.value(req('pods'), 404)).toBe('pods');
    expect(label.value({ isResourceRequest: false, resource: '', subresource: '' }, 200)).toBe('nonresource');
  });

  it('sets scraped gauges from the source at each scrape, one field each', async () => {
    const registry = programRegistry({ defaultMetrics: false });
    let reading = { open: 2, bytes: 4096 };
    scrapedGauges([registry], () => reading, {
      open: { name: 'test_open', help: 'open things', value: (r) => r.open },
      bytes: { name: 'test_bytes', help: 'bytes held', value: (r) => r.bytes },
    });
    expect((await series(registry, 'test_open'))[0]!.value).toBe(2);
    expect((await series(registry, 'test_bytes'))[0]!.value).toBe(4096);
    reading = { open: 0, bytes: 0 };
    expect(await registry.metrics()).toMatch(/^test_open 0$/m);
    expect(await registry.metrics()).toMatch(/^test_bytes 0$/m);
  });

  it('records reconciles, errors, latency and queue depth per controller', async () => {
    const registry = programRegistry({ defaultMetrics: false });
    const m = new ControllerMetrics(registry, 'yurt_manager');
    m.reconciled('autonomy', 'patched', 0.02);
    m.reconciled('autonomy', 'unchanged', 0.001);
    m.failed('autonomy', 'YM_ERR_POD_PATCH');
    m.queueDepth('autonomy', 3);
    expect((await series(registry, 'yurt_manager_controller_reconcile_total')).map((v) => [v.labels.result, v.value])).toEqual([['patched', 1], ['unchanged', 1]]);
    expect(await series(registry, 'yurt_manager_controller_reconcile_errors_total')).toEqual([{ labels: { controller: 'autonomy', code: 'YM_ERR_POD_PATCH' }, value: 1 }]);
    expect((await series(registry, 'yurt_manager_controller_reconcile_duration_seconds')).find((v) => (v as { metricName?: string }).metricName?.endsWith('_count'))?.value).toBe(2);
    expect(await series(registry, 'yurt_manager_controller_workqueue_depth')).toEqual([{ labels: { controller: 'autonomy' }, value: 3 }]);
  });

  it('reuses a metric of the same name already in the registry, so two parts of a program may both create the set', () => {
    const registry = programRegistry({ defaultMetrics: false });
    const earlier = new Counter({ name: 'yurt_manager_controller_reconcile_total', help: 'x', labelNames: ['controller', 'result'], registers: [registry] });
    const a = new ControllerMetrics(registry, 'yurt_manager');
    const b = new ControllerMetrics(registry, 'yurt_manager');
    expect(a.reconciles).toBe(earlier);
    expect(b.duration).toBe(a.duration);
  });
});
