import { describe, expect, it } from 'vitest';
import { podChanges, type PodMark } from './verify.js';

const mark = (name: string, restarts = 0): PodMark => ({ namespace: 'apps', name, node: 'edge-2', restarts });

describe('a wave\'s workloads', () => {
  it('are unchanged when every pod is still there with no new restart; new pods are no change', () => {
    const before = new Map([['u1', mark('web-1', 1)], ['u2', mark('web-2')]]);
    expect(podChanges(before, new Map([['u1', mark('web-1', 1)], ['u2', mark('web-2')], ['u3', mark('new')]]))).toEqual([]);
  });

  it('name a pod that is gone (re-created under another uid) or restarted', () => {
    const before = new Map([['u1', mark('web-1', 1)], ['u2', mark('web-2')]]);
    expect(podChanges(before, new Map([['u1', mark('web-1', 3)], ['u9', mark('web-2')]]))).toEqual([
      'edge-2: pod apps/web-1 restarted 2 time(s)',
      'edge-2: pod apps/web-2 is gone (re-created or evicted)',
    ]);
  });
});
