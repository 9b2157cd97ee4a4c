/** Which cached formats a client may be sent, and which one a response to it is cached in. */
import { describe, expect, it } from 'vitest';
import { acceptableFormats, freshest, negotiatedFormat, partition, splitPartition } from './formats.js';

const KUBELET = 'application/vnd.kubernetes.protobuf,application/json';
const KUBECTL_TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

describe('acceptableFormats (offline answers)', () => {
  it.each([
    [KUBELET, ['protobuf', 'json']],
    ['application/vnd.kubernetes.protobuf, */*', ['protobuf', 'json']],
    ['application/json', ['json']],
    // client-go's JSON clients append */*: that means JSON, never protobuf they may not decode.
    ['application/json, */*', ['json']],
    [KUBECTL_TABLE, ['json']],
    ['application/json;as=Table;v=v1;g=meta.k8s.io', []],
    ['application/vnd.kubernetes.protobuf', ['protobuf']],
    ['application/yaml', []],
    ['application/json;q=0.5, application/vnd.kubernetes.protobuf', ['protobuf', 'json']],
    [undefined, ['json']],
  ])('%s → %j', (accept, formats) => {
    expect(acceptableFormats(accept)).toEqual(formats);
  });
});

describe('negotiatedFormat (what gets cached)', () => {
  it('picks what the apiserver would, and reports transformations', () => {
    expect(negotiatedFormat(KUBELET)).toBe('protobuf');
    expect(negotiatedFormat(KUBELET, ['json'])).toBe('json');
    expect(negotiatedFormat('application/json, */*')).toBe('json');
    expect(negotiatedFormat(KUBECTL_TABLE)).toBe('transform');
    expect(negotiatedFormat('application/yaml')).toBeUndefined();
  });
});

describe('partitions', () => {
  it('keeps JSON under the component itself and protobuf beside it', () => {
    expect(partition('kubelet', 'json')).toBe('kubelet');
    expect(partition('kubelet', 'protobuf')).toBe('kubelet:protobuf');
    expect(splitPartition('kubelet:protobuf')).toEqual({ component: 'kubelet', format: 'protobuf' });
    expect(splitPartition('kube-proxy')).toEqual({ component: 'kube-proxy', format: 'json' });
  });

  it('serves the freshest acceptable copy, the preferred one on a tie or unorderable versions', () => {
    const copies = [
      { format: 'json' as const, resourceVersion: '12', value: 'j' },
      { format: 'protobuf' as const, resourceVersion: '10', value: 'p' },
    ];
    expect(freshest(copies, ['protobuf', 'json'])).toBe('j');
    expect(freshest(copies, ['protobuf'])).toBe('p');
    expect(freshest([{ ...copies[0]!, resourceVersion: '10' }, copies[1]!], ['protobuf', 'json'])).toBe('p');
    expect(freshest([{ ...copies[0]!, resourceVersion: 'x' }, copies[1]!], ['protobuf', 'json'])).toBe('p');
    expect(freshest(copies, [])).toBeUndefined();
  });
});
