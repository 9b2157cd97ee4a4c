/** Which cached formats a client may be sent, and which one a response to it is cached in. */
import { describe, expect, it } from 'vitest';
import { acceptableFormats, negotiatedFormat, partition, preferredCopy, splitPartition } from './formats.js';

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

  it('serves the copy in the most preferred format the client takes, whatever the resourceVersions say', () => {
    // The JSON copy's higher RV may be from before an etcd restore; the preference decides.
    const copies = [
      { format: 'json' as const, value: 'j' },
      { format: 'protobuf' as const, value: 'p' },
    ];
    expect(preferredCopy(copies, ['protobuf', 'json'])).toBe('p');
    expect(preferredCopy(copies, ['json', 'protobuf'])).toBe('j');
    expect(preferredCopy([copies[0]!], ['protobuf', 'json'])).toBe('j');
    expect(preferredCopy([copies[0]!], ['protobuf'])).toBeUndefined();
    expect(preferredCopy(copies, [])).toBeUndefined();
  });
});
