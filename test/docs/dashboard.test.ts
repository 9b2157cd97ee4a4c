/**
 * docs/grafana/yurt-edge-dashboard.json is a Grafana dashboard (schema 39) over the metrics the
 * programs really export: every series a panel queries is registered by yurthub, the tunnel server or
 * agent, or yurt-manager (histogram _bucket/_count/_sum by their histogram), so a renamed metric
 * breaks this test rather than a dashboard.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManagerMetrics } from '../../manager/metrics.js';
import { AgentMetrics } from '../../tunnel/agent/metrics.js';
import { ServerMetrics } from '../../tunnel/server/metrics.js';
import type { CacheStore } from '../../yurthub/store/store.js';
import type { Upstreams } from '../../yurthub/health/upstreams.js';
import { HubMetrics } from '../../yurthub/metrics.js';

const root = join(import.meta.dirname, '..', '..');

interface Panel {
  type: string;
  title: string;
  id: number;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { uid: string };
  targets?: Array<{ expr: string; refId: string }>;
}

const PROMQL_WORDS = new Set(['sum', 'by', 'rate', 'histogram_quantile', 'min', 'max', 'le', 'time', 'without', 'avg', 'irate', 'increase']);

describe('docs/grafana/yurt-edge-dashboard.json', () => {
  const dashboard = JSON.parse(readFileSync(join(root, 'docs', 'grafana', 'yurt-edge-dashboard.json'), 'utf8')) as {
    uid: string;
    schemaVersion: number;
    panels: Panel[];
    templating: { list: Array<{ name: string; type: string }> };
  };

  it('is a dashboard Grafana imports: unique panel ids, panels inside the 24-column grid, a Prometheus data source variable', () => {
    expect(dashboard.uid).toBe('yurt-edge');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      if (p.type === 'row') continue;
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      expect(new Set(p.targets!.map((t) => t.refId)).size, p.title).toBe(p.targets!.length);
    }
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')?.type).toBe('datasource');
  });

  it('queries only series the programs export', () => {
    const exported = new Set<string>();
    const registries = [
      new HubMetrics({} as CacheStore, { all: [] } as unknown as Upstreams).registry,
      new ServerMetrics(() => 0).registry,
      new AgentMetrics().registry,
      new ManagerMetrics('test', () => 0).registry,
    ];
    for (const registry of registries) {
      for (const metric of registry.getMetricsAsArray()) {
        const { name, constructor } = metric as unknown as { name: string; constructor: { name: string } };
        exported.add(name);
        if (constructor.name === 'Histogram') for (const suffix of ['_bucket', '_count', '_sum']) exported.add(name + suffix);
      }
    }
    const queried = new Set<string>();
    for (const p of dashboard.panels) {
      for (const t of p.targets ?? []) {
        // Label values, range selectors and grouping clauses name no series.
        const withoutStrings = t.expr.replace(/"[^"]*"/g, '""').replace(/\[[^\]]*\]/g, '').replace(/\b(by|without)\s*\([^)]*\)/g, '');
        for (const m of withoutStrings.matchAll(/\b([a-z_][a-z0-9_]*)\b(?!\s*[=!~(])/g)) {
          const word = m[1]!;
          if (!PROMQL_WORDS.has(word) && word.includes('_')) queried.add(word);
        }
      }
    }
    expect(queried.size).toBeGreaterThan(20);
    expect([...queried].filter((name) => !exported.has(name))).toEqual([]);
  });
});
