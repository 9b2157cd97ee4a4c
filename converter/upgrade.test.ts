import { describe, expect, it } from 'vitest';
import { finalValues } from './plan/plan.js';
import { withoutHeldStrategy, withoutPinnedImage } from './upgrade.js';
import { request } from './testing/fixtures.js';

describe('the values an upgrade starts from', () => {
  it('are the deployed ones without the pinned image (the upgrade pins its own)', () => {
    expect(withoutPinnedImage({ global: { image: { repository: 'r', tag: '0.1.0', pullPolicy: 'Always' } }, yurthub: { port: 1 } })).toEqual({ global: { image: { pullPolicy: 'Always' } }, yurthub: { port: 1 } });
    expect(withoutPinnedImage({ global: { image: { repository: 'r', tag: '0.1.0' } } })).toEqual({});
  });

  it('drop the OnDelete a stopped upgrade left in the release, or put back the strategy the user recorded', () => {
    const deployed = { 'yurt-tunnel-agent': { updateStrategy: { type: 'OnDelete' } }, yurthub: { port: 1 } };
    expect(withoutHeldStrategy(deployed, {})).toEqual({ yurthub: { port: 1 } });
    const own = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } };
    expect(withoutHeldStrategy({ 'yurt-tunnel-agent': { updateStrategy: { type: 'OnDelete' }, resources: {} } }, { 'yurt-tunnel-agent': { updateStrategy: own } })).toEqual({ 'yurt-tunnel-agent': { updateStrategy: own, resources: {} } });
  });

  it('held values go over everything for this run and are not recorded', () => {
    const r = request({ values: { 'yurt-tunnel-agent': { updateStrategy: { type: 'RollingUpdate' } } }, heldValues: { 'yurt-tunnel-agent': { updateStrategy: { type: 'OnDelete' } } } });
    expect((finalValues(r) as { 'yurt-tunnel-agent': unknown })['yurt-tunnel-agent']).toEqual({ updateStrategy: { type: 'OnDelete' } });
  });
});
