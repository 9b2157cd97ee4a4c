/**
 * Reads unlabelled gauges off a prom-client registry both ways a scraper may: the text exposition
 * format and the JSON form, so a test sees what Prometheus would and what the registry holds.
 */
import type { Registry } from 'prom-client';

export type GaugeValues = Record<string, number | undefined>;

export async function gaugeValues(registry: Registry, names: readonly string[]): Promise<{ text: GaugeValues; json: GaugeValues }> {
  const lines = (await registry.metrics()).split('\n');
  const json = await registry.getMetricsAsJSON();
  const fromText = (name: string) => {
    const line = lines.find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.slice(name.length + 1));
  };
  return {
    text: Object.fromEntries(names.map((name) => [name, fromText(name)])),
    json: Object.fromEntries(names.map((name) => [name, json.find((m) => m.name === name)?.values[0]?.value])),
  };
}
