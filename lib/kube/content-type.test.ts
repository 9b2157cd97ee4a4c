import { describe, expect, it } from 'vitest';
import {
  MediaTypes,
  PROTOBUF_WATCH_CONTENT_TYPE,
  bodyFormat,
  negotiateMediaType,
  parseAccept,
  parseMediaType,
  responseContentType,
} from './content-type.js';

const KUBELET_ACCEPT = 'application/vnd.kubernetes.protobuf,application/json';
const KUBECTL_GET_ACCEPT =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

const pick = (accept: string | undefined, options?: Parameters<typeof negotiateMediaType>[1]) =>
  negotiateMediaType(accept, options)?.mediaType;

describe('parseMediaType', () => {
  it('parses type, subtype and parameters', () => {
    expect(parseMediaType('application/json')).toEqual({ type: 'application', subtype: 'json', params: {} });
    expect(parseMediaType('application/json;as=Table;v=v1;g=meta.k8s.io')).toEqual({
      type: 'application',
      subtype: 'json',
      params: { as: 'Table', v: 'v1', g: 'meta.k8s.io' },
    });
    expect(parseMediaType('application/vnd.kubernetes.protobuf;stream=watch').params).toEqual({ stream: 'watch' });
  });

  it('lowercases names, keeps values, unquotes, and tolerates spacing and a trailing semicolon', () => {
    expect(parseMediaType(' Application/JSON ; Charset="utf-8" ;')).toEqual({
      type: 'application',
      subtype: 'json',
      params: { charset: 'utf-8' },
    });
    expect(parseMediaType('text/plain; x="a \\"q\\" ; b"').params).toEqual({ x: 'a "q" ; b' });
  });

  it.each([
    ['', 'expected type/subtype'],
    ['application', 'expected type/subtype'],
    ['application/', 'expected type/subtype'],
    ['a/b/c', 'expected type/subtype'],
    ['app lication/json', 'expected type/subtype'],
    ['application/json; x', 'invalid parameter'],
    ['application/json; x=', 'invalid value for parameter x'],
    ['application/json; x="y', 'unterminated quoted string'],
    ['application/json; a=1; A=2', 'duplicate parameter a'],
    ['application/json; a=1 b=2', 'unexpected text after parameter a'],
  ])('rejects %j', (value, fragment) => {
    expect(() => parseMediaType(value)).toThrow(
      expect.objectContaining({ code: 'KUBE_ERR_BAD_MEDIA_TYPE', statusCode: 415, message: expect.stringContaining(fragment) }),
    );
  });
});

describe('parseAccept', () => {
  it("keeps the client's order among equal preferences", () => {
    expect(parseAccept(KUBELET_ACCEPT).map((c) => c.subtype)).toEqual(['vnd.kubernetes.protobuf', 'json']);
  });

  it('orders by q, then concrete before wildcard', () => {
    const clauses = parseAccept('*/*;q=0.8, application/*, application/json;q=0.5, text/html');
    expect(clauses.map((c) => `${c.type}/${c.subtype};${c.q}`)).toEqual([
      'text/html;1',
      'application/*;1',
      '*/*;0.8',
      'application/json;0.5',
    ]);
  });

  it('drops malformed and q=0 clauses instead of failing', () => {
    expect(parseAccept('junk, application/json;q=0, */json/x, ,*')).toEqual([{ type: '*', subtype: '*', params: {}, q: 1 }]);
    expect(parseAccept('application/json;q=abc')).toEqual([]);
    expect(parseAccept(undefined)).toEqual([]);
  });

  it('keeps non-q parameters', () => {
    expect(parseAccept('application/json; as=Table ;g=meta.k8s.io;q=0.9')[0]).toEqual({
      type: 'application',
      subtype: 'json',
      params: { as: 'Table', g: 'meta.k8s.io' },
      q: 0.9,
    });
  });
});

describe('negotiateMediaType', () => {
  it('gives JSON to a client that states no preference', () => {
    expect(negotiateMediaType(undefined)).toEqual({ mediaType: MediaTypes.json, pretty: false, stream: '', unrecognized: [] });
    expect(pick('')).toBe(MediaTypes.json);
    expect(pick('*/*')).toBe(MediaTypes.json);
    expect(pick('application/*')).toBe(MediaTypes.json);
  });

  it("honours kubelet's protobuf preference, and q-values", () => {
    expect(pick(KUBELET_ACCEPT)).toBe(MediaTypes.protobuf);
    expect(pick('application/json,application/vnd.kubernetes.protobuf')).toBe(MediaTypes.json);
    expect(pick('application/json;q=0.9,application/vnd.kubernetes.protobuf')).toBe(MediaTypes.protobuf);
    expect(pick('application/yaml')).toBe(MediaTypes.yaml);
    expect(pick('text/html,*/*;q=0.1')).toBe(MediaTypes.json);
  });

  it('answers 406 (undefined) when nothing fits', () => {
    expect(pick('text/html')).toBeUndefined();
    expect(pick('*/json')).toBeUndefined();
    expect(pick('application/json;q=0')).toBeUndefined();
  });

  it('falls back to JSON for endpoints without protobuf (CRDs)', () => {
    const crd = { supported: [MediaTypes.json, MediaTypes.yaml] };
    expect(pick(KUBELET_ACCEPT, crd)).toBe(MediaTypes.json);
    expect(pick('application/vnd.kubernetes.protobuf', crd)).toBeUndefined();
    expect(pick(undefined, { supported: [MediaTypes.protobuf] })).toBe(MediaTypes.protobuf);
  });

  it("reports kubectl's Table request as a conversion", () => {
    expect(negotiateMediaType(KUBECTL_GET_ACCEPT)).toEqual({
      mediaType: MediaTypes.json,
      convert: { group: 'meta.k8s.io', version: 'v1', kind: 'Table' },
      pretty: false,
      stream: '',
      unrecognized: [],
    });
  });

  it('accepts only the conversions the apiserver can make', () => {
    // Table has no protobuf form, so that clause is skipped for the next one.
    expect(negotiateMediaType('application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json')).toMatchObject({
      mediaType: MediaTypes.json,
    });
    expect(negotiateMediaType('application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json')?.convert).toBeUndefined();
    expect(negotiateMediaType('application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io')).toMatchObject({
      mediaType: MediaTypes.protobuf,
      convert: { kind: 'PartialObjectMetadataList' },
    });
    expect(pick('application/json;as=Table')).toBeUndefined();
    expect(pick('application/json;as=Deployment;g=apps;v=v1')).toBeUndefined();
    expect(pick('application/json;as=Table;g=meta.k8s.io;v=v2')).toBeUndefined();
    // A conversion is allowed even where the plain object is not (CRD metadata-only lists).
    expect(pick('application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1', { supported: [MediaTypes.json] })).toBe(
      MediaTypes.protobuf,
    );
  });

  it('reads stream, pretty and unknown parameters', () => {
    expect(negotiateMediaType('application/vnd.kubernetes.protobuf;stream=watch')).toMatchObject({ stream: 'watch' });
    expect(negotiateMediaType('application/json;pretty=1;charset=utf-8')).toMatchObject({ pretty: true, unrecognized: ['charset'] });
    expect(pick('application/json;stream=other')).toBeUndefined();
    expect(pick('application/yaml;stream=watch,application/json')).toBe(MediaTypes.json);
  });

  it('refuses YAML for a watch, as the apiserver does even when JSON is acceptable too', () => {
    expect(pick('application/yaml', { stream: true })).toBeUndefined();
    expect(pick('application/yaml,application/json', { stream: true })).toBeUndefined();
    expect(pick('application/json,application/yaml', { stream: true })).toBe(MediaTypes.json);
    expect(pick(KUBELET_ACCEPT, { stream: true })).toBe(MediaTypes.protobuf);
  });
});

describe('responseContentType', () => {
  it('labels protobuf watches, and only them, with stream=watch', () => {
    expect(responseContentType(MediaTypes.protobuf, true)).toBe(PROTOBUF_WATCH_CONTENT_TYPE);
    expect(PROTOBUF_WATCH_CONTENT_TYPE).toBe('application/vnd.kubernetes.protobuf;stream=watch');
    expect(responseContentType(MediaTypes.json, true)).toBe('application/json');
    expect(responseContentType(MediaTypes.protobuf)).toBe('application/vnd.kubernetes.protobuf');
  });
});

describe('bodyFormat', () => {
  it.each([
    [undefined, 'application/json', 'json', false],
    ['', 'application/json', 'json', false],
    ['application/json; charset=utf-8', 'application/json', 'json', false],
    ['application/merge-patch+json', 'application/merge-patch+json', 'json', false],
    ['application/strategic-merge-patch+json', 'application/strategic-merge-patch+json', 'json', false],
    ['application/apply-patch+yaml', 'application/apply-patch+yaml', 'yaml', false],
    ['application/yaml', 'application/yaml', 'yaml', false],
    ['application/vnd.kubernetes.protobuf', 'application/vnd.kubernetes.protobuf', 'protobuf', false],
    ['application/vnd.kubernetes.protobuf;stream=watch', 'application/vnd.kubernetes.protobuf', 'protobuf', true],
    ['text/plain', 'text/plain', undefined, false],
    ['Garbage', 'garbage', undefined, false],
  ])('%j → %s (%s)', (header, mediaType, format, watchStream) => {
    expect(bodyFormat(header)).toEqual({ mediaType, format, watchStream });
  });
});
