import { describe, expect, it } from 'vitest';
import { parseRequestInfo } from '../../lib/kube/request-info.js';
import { CachePolicy } from './cache-policy.js';

const policy = new CachePolicy(['kubelet', 'kube-proxy']);
const cacheable = (component: string, method: string, url: string) => policy.cacheable(component, parseRequestInfo(method, url));

describe('cache policy', () => {
  it('caches node components reads and the objects their writes return', () => {
    expect(cacheable('kubelet', 'GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dn')).toBe(true);
    expect(cacheable('kubelet', 'GET', '/api/v1/namespaces/default/pods/p')).toBe(true);
    expect(cacheable('kubelet', 'PATCH', '/api/v1/nodes/n/status')).toBe(true);
    expect(cacheable('kubelet', 'PUT', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n')).toBe(true);
    expect(cacheable('kube-proxy', 'GET', '/apis/discovery.k8s.io/v1/endpointslices?watch=true')).toBe(true);
  });

  it('does not cache other components, events, reviews, deletes or non-status subresources', () => {
    expect(cacheable('kubectl', 'GET', '/api/v1/pods')).toBe(false);
    expect(cacheable('kubelet', 'GET', '/api/v1/events')).toBe(false);
    expect(cacheable('kubelet', 'POST', '/api/v1/namespaces/default/events')).toBe(false);
    expect(cacheable('kubelet', 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews')).toBe(false);
    expect(cacheable('kubelet', 'POST', '/apis/authentication.k8s.io/v1/tokenreviews')).toBe(false);
    expect(cacheable('kubelet', 'DELETE', '/api/v1/namespaces/default/pods/p')).toBe(false);
    expect(cacheable('kubelet', 'GET', '/api/v1/namespaces/default/pods/p/log')).toBe(false);
  });

  it('never caches credentials nothing needs offline: TokenRequests and CSRs', () => {
    // kubelet's TokenRequest for a pod's projected service-account token.
    expect(cacheable('kubelet', 'POST', '/api/v1/namespaces/default/serviceaccounts/default/token')).toBe(false);
    expect(new CachePolicy(['*']).cacheable('kubelet', parseRequestInfo('POST', '/api/v1/namespaces/default/serviceaccounts/default/token'))).toBe(false);
    expect(cacheable('kubelet', 'POST', '/apis/certificates.k8s.io/v1/certificatesigningrequests')).toBe(false);
    expect(cacheable('kubelet', 'GET', '/apis/certificates.k8s.io/v1/certificatesigningrequests?fieldSelector=metadata.name%3Dcsr-1&watch=true')).toBe(false);
    expect(cacheable('kubelet', 'GET', '/apis/certificates.k8s.io/v1/certificatesigningrequests/csr-1')).toBe(false);
    // Secrets are kept: kubelet needs them to set a pod's volumes up again after an offline reboot.
    expect(cacheable('kubelet', 'GET', '/api/v1/namespaces/default/secrets?fieldSelector=metadata.name%3Ds&watch=true')).toBe(true);
    expect(cacheable('kubelet', 'GET', '/api/v1/namespaces/default/serviceaccounts/default')).toBe(true);
  });

  it('caches discovery so kubectl works offline, and * caches everyone', () => {
    expect(cacheable('kubelet', 'GET', '/version')).toBe(true);
    expect(cacheable('kubelet', 'GET', '/apis/apps/v1')).toBe(true);
    expect(cacheable('kubelet', 'GET', '/healthz')).toBe(false);
    expect(new CachePolicy(['*']).cacheable('anything', parseRequestInfo('GET', '/api/v1/pods'))).toBe(true);
  });
});
