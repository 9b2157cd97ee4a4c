/**
 * docs/grafana/yurt-edge-dashboard.json against Grafana's schema of a dashboard (test/docs/grafana-schema.ts:
 * the kind's generated types from @grafana/schema, checked by the TypeScript compiler), and proof that the
 * check bites: mutated copies with a gridPos missing a field, a value of the wrong type, an unknown
 * field, a value outside an enum each fail, naming the place.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { grafanaSchemaErrors } from './grafana-schema.js';

const root = join(import.meta.dirname, '..', '..');
const FILE = join(root, 'docs', 'grafana', 'yurt-edge-dashboard.json');

type Json = Record<string, unknown> & { panels: Array<Record<string, unknown> & { gridPos: Record<string, unknown>; title: string }> };
const load = () => JSON.parse(readFileSync(FILE, 'utf8')) as Json;

describe('docs/grafana/yurt-edge-dashboard.json against Grafana\'s dashboard schema', () => {
  it('conforms (the import envelope __inputs aside)', () => {
    const dashboard = load();
    expect(dashboard.__inputs).toBeDefined();
    expect(grafanaSchemaErrors(dashboard)).toEqual([]);
  }, 60_000);

  it('a broken copy fails, naming what is wrong and where', () => {
    const missing = load();
    delete missing.panels[3]!.gridPos.y;
    expect(grafanaSchemaErrors(missing)).toEqual([expect.stringMatching(/Property 'y' is missing in type .* but required in type 'GridPos'/)]);

    const wrongType = load();
    wrongType.panels[3]!.gridPos.w = '12';
    const [w] = grafanaSchemaErrors(wrongType);
    expect(w).toMatch(/Type 'string' is not assignable to type 'number'/);
    expect(w).toMatch(/\| at "w": "12",?$/);

    const unknown = load();
    unknown.panels[0]!.gridpos = unknown.panels[0]!.gridPos;
    expect(grafanaSchemaErrors(unknown)).toEqual([expect.stringMatching(/known properties, and '"gridpos"' does not exist in type 'Panel \| RowPanel'/)]);

    const enumValue = load();
    enumValue.graphTooltip = 7;
    expect(grafanaSchemaErrors(enumValue)).toEqual([expect.stringMatching(/Type '7' is not assignable to type 'DashboardCursorSync \| undefined'/)]);

    const title = load();
    title.title = 42;
    expect(grafanaSchemaErrors(title)).toEqual([expect.stringMatching(/Type 'number' is not assignable to type 'string'/)]);
  }, 120_000);
});
