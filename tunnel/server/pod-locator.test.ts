import { describe, expect, it } from 'vitest';
import { podFromPath } from './pod-locator.js';

describe('podFromPath', () => {
  it.each([
    ['/exec/default/web/c?command=sh&stdin=1', { namespace: 'default', name: 'web' }],
    ['/exec/kube-system/dns/0b2f/c', { namespace: 'kube-system', name: 'dns' }],
    ['/attach/ns/p/c', { namespace: 'ns', name: 'p' }],
    ['/portForward/ns/p?port=80', { namespace: 'ns', name: 'p' }],
    ['/containerLogs/ns/p/c?follow=true', { namespace: 'ns', name: 'p' }],
    ['/run/ns/p%2Dx/c', { namespace: 'ns', name: 'p-x' }],
  ])('finds the pod in %s', (path, pod) => {
    expect(podFromPath(path)).toEqual(pod);
  });

  it.each(['/metrics', '/stats/summary', '/healthz', '/exec/only-namespace', '/logs/messages', '/run/ns/%E0%A4%A'])('finds none in %s', (path) => {
    expect(podFromPath(path)).toBeUndefined();
  });
});
