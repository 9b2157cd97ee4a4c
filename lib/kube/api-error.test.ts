import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { apiMessage, apiStatus } from './api-error.js';

const status = (code: number, message: string) => JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code });

describe('lib/kube/api-error', () => {
  it("reads the status and the apiserver's message from client-node's ApiException", () => {
    const err = new ApiException(409, 'HTTP-Code: 409\nMessage: Unknown API Status Code!\nBody: ...', status(409, 'Operation cannot be fulfilled on leases.coordination.k8s.io "x": the object has been modified'), {});
    expect(apiStatus(err)).toBe(409);
    expect(apiMessage(err)).toBe('Operation cannot be fulfilled on leases.coordination.k8s.io "x": the object has been modified');
  });

  it('has no status for socket errors, whose code is a string, and keeps their first line', () => {
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443\n    at TCPConnectWrap'), { code: 'ECONNREFUSED' });
    expect(apiStatus(err)).toBeUndefined();
    expect(apiMessage(err)).toBe('connect ECONNREFUSED 127.0.0.1:6443');
  });

  it("shows the start of a body that is not a Status, and a parsed body's message", () => {
    expect(apiMessage({ code: 502, body: '<html>\n<body>Bad Gateway</body>' })).toBe('<html>');
    expect(apiMessage({ code: 403, body: { message: 'pods is forbidden' } })).toBe('pods is forbidden');
    expect(apiMessage({ code: 500, body: '' })).toBe('HTTP 500');
    expect(apiStatus({ code: 99 })).toBeUndefined();
  });
});
