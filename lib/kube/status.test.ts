import { describe, expect, it } from 'vitest';
import { decodeUnknown } from './protobuf.js';
import { ProtoReader } from './protobuf-wire.js';
import {
  badRequest,
  forbidden,
  internalError,
  isStatus,
  methodNotSupported,
  notFound,
  qualifiedResource,
  requestEntityTooLarge,
  resourceExpired,
  serviceUnavailable,
  statusToProtobuf,
  timeout,
  tooManyRequests,
} from './status.js';

const pods = { group: '', resource: 'pods' };
const leases = { group: 'coordination.k8s.io', resource: 'leases' };
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ascii = (s: string) => Buffer.from(s, 'latin1').toString('hex');

describe('Status builders', () => {
  it('serialises NotFound byte for byte like the apiserver (no empty group)', () => {
    expect(JSON.stringify(notFound(pods, 'x'))).toBe(
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"x\\" not found",' +
        '"reason":"NotFound","details":{"name":"x","kind":"pods"},"code":404}',
    );
  });

  it('qualifies grouped resources', () => {
    expect(qualifiedResource(leases)).toBe('leases.coordination.k8s.io');
    expect(notFound(leases, 'node-1')).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'leases.coordination.k8s.io "node-1" not found',
      reason: 'NotFound',
      details: { name: 'node-1', group: 'coordination.k8s.io', kind: 'leases' },
      code: 404,
    });
  });

  it('words Forbidden in its three forms', () => {
    expect(forbidden(pods, 'x', 'yurthub is offline')).toMatchObject({
      code: 403,
      reason: 'Forbidden',
      message: 'pods "x" is forbidden: yurthub is offline',
      details: { name: 'x', kind: 'pods' },
    });
    expect(forbidden(pods, '', 'no').message).toBe('pods is forbidden: no');
    const bare = forbidden(undefined, '', 'no');
    expect(bare.message).toBe('forbidden: no');
    expect(bare.details).toEqual({});
  });

  it('builds the message-only errors', () => {
    expect(badRequest('bad')).toEqual({
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'bad', reason: 'BadRequest', code: 400,
    });
    expect(serviceUnavailable('no upstream')).toMatchObject({ code: 503, reason: 'ServiceUnavailable', message: 'no upstream' });
    expect(serviceUnavailable('x').details).toBeUndefined();
    expect(resourceExpired('too old resource version: 1 (5)')).toMatchObject({ code: 410, reason: 'Expired' });
  });

  it('prefixes the messages Go prefixes', () => {
    expect(requestEntityTooLarge('limit is 3145728')).toMatchObject({
      code: 413, reason: 'RequestEntityTooLarge', message: 'Request entity too large: limit is 3145728',
    });
    expect(timeout('request did not complete within 1m0s', 2)).toMatchObject({
      code: 504, reason: 'Timeout', message: 'Timeout: request did not complete within 1m0s', details: { retryAfterSeconds: 2 },
    });
    expect(methodNotSupported(leases, 'watch')).toMatchObject({
      code: 405,
      reason: 'MethodNotAllowed',
      message: 'watch is not supported on resources of kind "leases.coordination.k8s.io"',
      details: { group: 'coordination.k8s.io', kind: 'leases' },
    });
  });

  it('keeps an empty details object where Go has a non-nil pointer', () => {
    expect(JSON.stringify(tooManyRequests('slow down'))).toBe(
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"slow down","reason":"TooManyRequests","details":{},"code":429}',
    );
    expect(tooManyRequests('slow down', 1).details).toEqual({ retryAfterSeconds: 1 });
  });

  it('lists an internal error as its own cause', () => {
    expect(internalError(new Error('boom'))).toMatchObject({
      code: 500,
      reason: 'InternalError',
      message: 'Internal error occurred: boom',
      details: { causes: [{ message: 'boom' }] },
    });
    expect(internalError('plain').message).toBe('Internal error occurred: plain');
  });

  it('recognises Status objects', () => {
    expect(isStatus(notFound(pods, 'x'))).toBe(true);
    expect(isStatus(JSON.parse(JSON.stringify(badRequest('x'))))).toBe(true);
    expect(isStatus({ kind: 'Pod', apiVersion: 'v1' })).toBe(false);
    expect(isStatus(null)).toBe(false);
  });
});

describe('statusToProtobuf', () => {
  it('writes the bytes the Go marshaller writes', () => {
    const raw =
      '0a06' + '0a00' + '1200' + '1a00' + // metadata: ListMeta with its three empty strings
      '1207' + ascii('Failure') +
      '1a03' + ascii('bad') +
      '220a' + ascii('BadRequest') +
      '309003'; // code 400 as a varint
    const typeMeta = '0a02' + ascii('v1') + '1206' + ascii('Status');
    const expected = '6b387300' + '0a0c' + typeMeta + '1225' + raw + '1a00' + '2200';
    expect(hex(statusToProtobuf(badRequest('bad')))).toBe(expected);
  });

  it('writes details, causes and retryAfterSeconds', () => {
    const body = decodeUnknown(statusToProtobuf(internalError('boom')));
    expect(body.typeMeta).toEqual({ apiVersion: 'v1', kind: 'Status' });
    const fields = new Map<number, Uint8Array | number>();
    const r = new ProtoReader(body.raw);
    while (!r.done) {
      const t = r.tag();
      fields.set(t.field, t.wire === 0 ? r.varint() : r.bytes());
    }
    expect(fields.get(6)).toBe(500);
    const details = fields.get(5) as Uint8Array;
    // name "", group "", kind "", causes {reason "", message "boom", field ""}, retryAfterSeconds 0, uid "".
    expect(hex(details)).toBe('0a00' + '1200' + '1a00' + '220a' + '0a00' + '1204' + ascii('boom') + '1a00' + '2800' + '3200');

    const retry = decodeUnknown(statusToProtobuf(tooManyRequests('x', 7)));
    expect(hex(retry.raw)).toContain('2807');
  });
});
