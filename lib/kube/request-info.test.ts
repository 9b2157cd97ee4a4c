import { describe, expect, it } from 'vitest';
import { isYurtError } from '../errors.js';
import { componentFromUserAgent, parseRequestInfo, type RequestInfo } from './request-info.js';

type Expected = Partial<Omit<RequestInfo, 'parts' | 'path'>>;

const resource = (e: Expected): Expected => ({ isResourceRequest: true, ...e });

function expectInfo(method: string, url: string, expected: Expected): RequestInfo {
  const info = parseRequestInfo(method, url);
  expect(info).toMatchObject(expected);
  return info;
}

function expectBadPath(method: string, url: string, fragment: string): void {
  let caught: unknown;
  try {
    parseRequestInfo(method, url);
  } catch (err) {
    caught = err;
  }
  expect(isYurtError(caught)).toBe(true);
  const err = caught as { code: string; statusCode: number; message: string };
  expect(err.code).toBe('KUBE_ERR_BAD_REQUEST_PATH');
  expect(err.statusCode).toBe(400);
  expect(err.message).toContain(fragment);
}

describe('parseRequestInfo: resource requests', () => {
  it('reads a namespaced subresource (pod logs)', () => {
    const info = expectInfo('GET', '/api/v1/namespaces/default/pods/x/log?follow=true', resource({
      verb: 'get', apiPrefix: 'api', apiVersion: 'v1', namespace: 'default', resource: 'pods', name: 'x', subresource: 'log',
    }));
    expect(info.parts).toEqual(['pods', 'x', 'log']);
    expect(info.path).toBe('/api/v1/namespaces/default/pods/x/log');
  });

  it('fills in every field', () => {
    expect(parseRequestInfo('GET', '/apis/apps/v1/namespaces/ns/deployments/d/scale')).toEqual({
      isResourceRequest: true,
      path: '/apis/apps/v1/namespaces/ns/deployments/d/scale',
      verb: 'get',
      apiPrefix: 'apis',
      apiGroup: 'apps',
      apiVersion: 'v1',
      namespace: 'ns',
      resource: 'deployments',
      subresource: 'scale',
      name: 'd',
      parts: ['deployments', 'd', 'scale'],
    });
    expect(parseRequestInfo('GET', '/healthz?verbose=1')).toEqual({
      isResourceRequest: false,
      path: '/healthz',
      verb: 'get',
      apiPrefix: '',
      apiGroup: '',
      apiVersion: '',
      namespace: '',
      resource: '',
      subresource: '',
      name: '',
      parts: [],
    });
  });

  it('reads a grouped resource (node lease renewal)', () => {
    expectInfo('PUT', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1', resource({
      verb: 'update', apiPrefix: 'apis', apiGroup: 'coordination.k8s.io', apiVersion: 'v1',
      namespace: 'kube-node-lease', resource: 'leases', name: 'node-1',
    }));
  });

  it('reads a cluster-scoped status subresource', () => {
    expectInfo('PATCH', '/api/v1/nodes/n1/status', resource({ verb: 'patch', resource: 'nodes', name: 'n1', subresource: 'status' }));
  });

  it('reads CRDs like built-ins', () => {
    expectInfo('GET', '/apis/example.com/v1/namespaces/ns/widgets', resource({
      verb: 'list', apiGroup: 'example.com', apiVersion: 'v1', namespace: 'ns', resource: 'widgets',
    }));
    expectInfo('POST', '/apis/example.com/v1/namespaces/ns/widgets', resource({ verb: 'create', resource: 'widgets', name: '' }));
    expectInfo('PUT', '/apis/example.com/v1/namespaces/ns/widgets/w1/scale', resource({
      verb: 'update', resource: 'widgets', name: 'w1', subresource: 'scale',
    }));
    expectInfo('GET', '/apis/example.com/v1/widgets', resource({ verb: 'list', namespace: '', resource: 'widgets' }));
  });

  it('maps methods to verbs', () => {
    const url = '/api/v1/namespaces/ns/configmaps/c';
    expect(parseRequestInfo('GET', url).verb).toBe('get');
    expect(parseRequestInfo('HEAD', url).verb).toBe('get');
    expect(parseRequestInfo('PUT', url).verb).toBe('update');
    expect(parseRequestInfo('PATCH', url).verb).toBe('patch');
    expect(parseRequestInfo('DELETE', url).verb).toBe('delete');
    expect(parseRequestInfo('POST', '/api/v1/namespaces/ns/configmaps').verb).toBe('create');
    expect(parseRequestInfo('OPTIONS', url).verb).toBe('');
    expect(parseRequestInfo('get', url).verb).toBe('get');
  });

  it('turns a nameless GET into list, and a nameless DELETE into deletecollection', () => {
    expectInfo('GET', '/api/v1/namespaces/ns/pods', resource({ verb: 'list', namespace: 'ns', resource: 'pods' }));
    expectInfo('HEAD', '/api/v1/pods', resource({ verb: 'list', resource: 'pods' }));
    expectInfo('DELETE', '/api/v1/namespaces/ns/pods?labelSelector=app%3Dweb', resource({ verb: 'deletecollection', namespace: 'ns', resource: 'pods' }));
    expectInfo('POST', '/api/v1/namespaces/ns/pods/p/eviction', resource({ verb: 'create', name: 'p', subresource: 'eviction' }));
  });

  it('treats the namespace resource specially', () => {
    expectInfo('GET', '/api/v1/namespaces', resource({ verb: 'list', resource: 'namespaces', namespace: '', name: '' }));
    expectInfo('GET', '/api/v1/namespaces/kube-system', resource({
      verb: 'get', resource: 'namespaces', name: 'kube-system', namespace: 'kube-system',
    }));
    expectInfo('PUT', '/api/v1/namespaces/kube-system/status', resource({
      verb: 'update', resource: 'namespaces', name: 'kube-system', namespace: 'kube-system', subresource: 'status',
    }));
    expectInfo('PUT', '/api/v1/namespaces/kube-system/finalize', resource({
      verb: 'update', resource: 'namespaces', name: 'kube-system', subresource: 'finalize',
    }));
    // Anything else after the namespace name is a resource inside it.
    expectInfo('GET', '/api/v1/namespaces/kube-system/secrets', resource({ verb: 'list', namespace: 'kube-system', resource: 'secrets' }));
  });

  it('keeps trailing segments of proxy subresources out of the classification', () => {
    const info = expectInfo('GET', '/api/v1/namespaces/ns/pods/p:8080/proxy/metrics/x', resource({
      verb: 'get', resource: 'pods', name: 'p:8080', subresource: 'proxy',
    }));
    expect(info.parts).toEqual(['pods', 'p:8080', 'proxy', 'metrics', 'x']);
  });

  it('ignores a trailing slash and accepts absolute-form targets', () => {
    expectInfo('GET', '/api/v1/pods/', resource({ verb: 'list', resource: 'pods' }));
    expectInfo('GET', 'http://127.0.0.1:10261/api/v1/namespaces/ns/pods/p?x=1', resource({ verb: 'get', name: 'p' }));
  });

  it('decodes the path before splitting it, as Go does', () => {
    expectInfo('GET', '/api/v1/namespaces/ns/configmaps/a%3Ab', resource({ verb: 'get', name: 'a:b' }));
    // %2F is a separator once decoded: the apiserver sees namespace "a", resource "b", name "pods".
    expectInfo('GET', '/api/v1/namespaces/a%2Fb/pods', resource({ namespace: 'a', resource: 'b', name: 'pods' }));
  });
});

describe('parseRequestInfo: watch', () => {
  it('reads the deprecated /watch/ path prefix', () => {
    expectInfo('GET', '/api/v1/watch/pods', resource({ verb: 'watch', resource: 'pods', namespace: '', name: '' }));
    expectInfo('GET', '/api/v1/watch/namespaces/ns/pods/x', resource({ verb: 'watch', namespace: 'ns', resource: 'pods', name: 'x' }));
    expectInfo('GET', '/apis/example.com/v1/watch/namespaces/ns/widgets', resource({ verb: 'watch', apiGroup: 'example.com', resource: 'widgets' }));
  });

  it('reads the watch query parameter the way the parameter codec converts booleans', () => {
    const verb = (q: string) => parseRequestInfo('GET', `/api/v1/pods?${q}`).verb;
    expect(verb('watch=true')).toBe('watch');
    expect(verb('watch=1')).toBe('watch');
    expect(verb('watch=TRUE')).toBe('watch');
    // Only absent, "0" and "false" are false; even an empty value is true.
    expect(verb('watch=')).toBe('watch');
    expect(verb('watch=yes')).toBe('watch');
    expect(verb('watch=false')).toBe('list');
    expect(verb('watch=False')).toBe('list');
    expect(verb('watch=0')).toBe('list');
    expect(verb('watch=0&watch=1')).toBe('list');
    expect(verb('')).toBe('list');
  });

  it('does not make a named GET a watch', () => {
    expect(parseRequestInfo('GET', '/api/v1/namespaces/ns/pods/x?watch=true').verb).toBe('get');
  });
});

describe('parseRequestInfo: fieldSelector metadata.name', () => {
  it('leaves non-name field selectors alone', () => {
    expectInfo('GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dn1', resource({ verb: 'list', resource: 'pods', name: '' }));
  });

  it('names the object of a single-object list or watch (kubelet watching its Node)', () => {
    expectInfo('GET', '/api/v1/nodes?fieldSelector=metadata.name%3Dn1', resource({ verb: 'list', resource: 'nodes', name: 'n1' }));
    expectInfo('GET', '/api/v1/nodes?fieldSelector=metadata.name%3D%3Dn1&watch=true&resourceVersion=5', resource({ verb: 'watch', name: 'n1' }));
    expectInfo('GET', '/api/v1/namespaces/ns/pods?fieldSelector=spec.nodeName%3Dn1,metadata.name%3Dp', resource({ verb: 'list', name: 'p' }));
  });

  it('ignores != and names that are not valid path segments', () => {
    expect(parseRequestInfo('GET', '/api/v1/nodes?fieldSelector=metadata.name!%3Dn1').name).toBe('');
    expect(parseRequestInfo('GET', '/api/v1/nodes?fieldSelector=metadata.name%3D..').name).toBe('');
    expect(parseRequestInfo('GET', '/api/v1/nodes?fieldSelector=metadata.name%3Da%2Fb').name).toBe('');
    expect(parseRequestInfo('GET', '/api/v1/nodes?fieldSelector=metadata.name%3Da%25b').name).toBe('');
  });

  it('drops the name but keeps watch when any list option fails to parse', () => {
    expectInfo('GET', '/api/v1/nodes?labelSelector=a%20b&fieldSelector=metadata.name%3Dx&watch=1', resource({ verb: 'watch', name: '' }));
    expectInfo('GET', '/api/v1/nodes?limit=ten&fieldSelector=metadata.name%3Dx', resource({ verb: 'list', name: '' }));
    expectInfo('GET', '/api/v1/nodes?fieldSelector=metadata.name%3Dx%3Dy', resource({ verb: 'list', name: '' }));
  });

  it('does not apply to the /watch/ prefix, which is never a get first', () => {
    expect(parseRequestInfo('GET', '/api/v1/watch/nodes?fieldSelector=metadata.name%3Dn1').name).toBe('');
  });
});

describe('parseRequestInfo: non-resource requests', () => {
  it.each([
    '/version',
    '/healthz',
    '/readyz?verbose',
    '/openapi/v2',
    '/openapi/v3/apis/apps/v1',
    '/api',
    '/api/v1',
    '/apis',
    '/apis/apps',
    '/apis/apps/v1',
    '/apis/example.com/v1',
    '/',
  ])('%s is not a resource request', (url) => {
    const info = parseRequestInfo('GET', url);
    expect(info.isResourceRequest).toBe(false);
    expect(info.verb).toBe('get');
    expect(info.resource).toBe('');
    expect(info.name).toBe('');
  });

  it('keeps the method, lowercased, as the verb', () => {
    expect(parseRequestInfo('POST', '/healthz').verb).toBe('post');
    expect(parseRequestInfo('PUT', '/api').verb).toBe('put');
  });

  it('records the API prefix of group discovery the way Go does', () => {
    expect(parseRequestInfo('GET', '/apis/apps/v1')).toMatchObject({ apiPrefix: 'apis', apiGroup: '', apiVersion: '' });
    expect(parseRequestInfo('GET', '/api/v1')).toMatchObject({ apiPrefix: '' });
  });
});

describe('parseRequestInfo: invalid targets', () => {
  it('rejects malformed percent-encoding', () => {
    expectBadPath('GET', '/api/v1/namespaces/%zz/pods', 'percent-encoding');
    expectBadPath('GET', '/api/v1/namespaces/ns/pods/%E0%A4%A', 'percent-encoding');
  });

  it('rejects dot segments, raw or encoded', () => {
    expectBadPath('GET', '/api/v1/namespaces/../pods', '".."');
    expectBadPath('GET', '/api/v1/namespaces/ns/pods/%2E%2E', '".."');
    expectBadPath('GET', '/api/v1/./pods', '"."');
  });

  it('rejects empty segments inside the path', () => {
    expectBadPath('GET', '/api/v1/namespaces//pods', 'empty path segment');
    expectBadPath('GET', '/healthz//x', 'empty path segment');
  });

  it('rejects a path-relative target', () => {
    expectBadPath('GET', 'api/v1/pods', 'must start with');
    expectBadPath('OPTIONS', '*', 'must start with');
  });

  it('rejects /watch with nothing to watch, as the apiserver does', () => {
    expectBadPath('GET', '/api/v1/watch', 'unable to determine kind and namespace');
    expectBadPath('GET', '/apis/apps/v1/proxy', 'unable to determine kind and namespace');
  });
});

describe('componentFromUserAgent', () => {
  it.each([
    ['kubelet/v1.37.0 (linux/amd64) kubernetes/abc123', 'kubelet'],
    ['kube-proxy/v1.30.1 (linux/arm64) kubernetes/def', 'kube-proxy'],
    ['coredns/1.11.1', 'coredns'],
    ['Go-http-client/1.1', 'go-http-client'],
    ['flanneld', 'flanneld'],
    ['yurt_tunnel.agent/v1', 'yurt_tunnel.agent'],
    ['my app/1.0', 'myapp'],
    ['kubectl$%^/1', 'kubectl'],
    ['/v1', 'unknown'],
    ['..', 'unknown'],
    ['', 'unknown'],
    [undefined, 'unknown'],
    [null, 'unknown'],
  ])('%j → %s', (ua, component) => {
    expect(componentFromUserAgent(ua)).toBe(component);
  });

  it('caps the length so a hostile User-Agent cannot make huge cache keys', () => {
    expect(componentFromUserAgent('a'.repeat(500))).toBe('a'.repeat(63));
  });
});
