import { describe, expect, it } from 'vitest';
import { describeWaves, parseWaves, POOL_LABEL, splitWaves, type WaveNode } from './spec.js';

const nodes = (n: number, pool?: (i: number) => string | undefined): WaveNode[] =>
  Array.from({ length: n }, (_, i) => {
    const p = pool?.(i);
    const labels: Record<string, string> = p ? { [POOL_LABEL]: p } : {};
    return { name: `edge-${String(i + 1).padStart(2, '0')}`, labels };
  });

describe('--waves', () => {
  it('parses counts, percentages and pools', () => {
    expect(parseWaves('1,10%,100%')).toEqual({ by: 'sizes', steps: [{ count: 1 }, { percent: 10 }, { percent: 100 }] });
    expect(parseWaves(' pools ')).toEqual({ by: 'pools' });
    expect(parseWaves('100%')).toEqual({ by: 'sizes', steps: [{ percent: 100 }] });
  });

  it('refuses what would leave nodes out or means nothing, naming the flag and the rule', () => {
    for (const [text, rule] of [
      ['1,10', /end with 100%/], ['1,x,100%', /"x" is neither/], ['0,100%', /counts start at 1/], ['150%', /outside/], ['', /"" is neither/], ['1,,100%', /"" is neither/],
    ] as const) {
      expect(() => parseWaves(text), text).toThrow(expect.objectContaining({ code: 'CNV_ERR_USAGE', message: expect.stringMatching(rule) }));
      expect(() => parseWaves(text)).toThrow(/--waves/);
    }
  });

  it('splits cumulative sizes over the nodes by name; a percentage rounds up; empty steps vanish', () => {
    expect(splitWaves(parseWaves('1,10%,100%'), nodes(20).reverse())).toEqual([
      ['edge-01'], ['edge-02'], nodes(20).slice(2).map((n) => n.name),
    ]);
    expect(splitWaves(parseWaves('1,10%,100%'), nodes(3))).toEqual([['edge-01'], ['edge-02', 'edge-03']]);
    expect(splitWaves(parseWaves('5,100%'), nodes(2))).toEqual([['edge-01', 'edge-02']]);
    expect(splitWaves(parseWaves('100%'), [])).toEqual([]);
  });

  it('gives one wave per pool, pools by name, nodes in no pool last', () => {
    const waves = splitWaves({ by: 'pools' }, nodes(5, (i) => [undefined, 'site-b', 'site-a', 'site-b', undefined][i]));
    expect(waves).toEqual([['edge-03'], ['edge-02', 'edge-04'], ['edge-01', 'edge-05']]);
    expect(describeWaves(waves)).toBe('wave 1/3: edge-03\nwave 2/3: edge-02, edge-04\nwave 3/3: edge-01, edge-05');
  });
});
