import { crc32 } from 'node:zlib';
import { YurthubErrors } from '../errors.js';
import {
  CONTENT_TYPES,
  type CacheContentType,
  type ListMeta,
  type ListScope,
  type StoredListMeta,
  type StoredObject,
} from './store.js';

/**
 * Value encodings of the LevelDB backend.
 *
 * Object record (binary, so protobuf bytes are stored as they are and reading an RV does not
 * parse the object):
 *   byte 0     format version (1)
 *   byte 1     content type (0 json, 1 protobuf)
 *   bytes 2-5  CRC-32 of everything after byte 5, big endian
 *   bytes 6-7  length of the resourceVersion in bytes, big endian
 *   ...        resourceVersion (UTF-8), then the serialized object
 * The CRC is ours because LevelDB does not verify its block checksums on reads by default, and an
 * SD card's flipped bit served to kubelet as a pod spec is worse than a clear YH_ERR_CACHE_CORRUPT.
 *
 * List metadata: small JSON, read once per list.
 */

const FORMAT = 1;
const HEADER = 8;

function contentCode(t: CacheContentType): number {
  return CONTENT_TYPES.indexOf(t);
}

export function encodeObject(obj: StoredObject): Buffer {
  return encodeObjects([obj])[0] as Buffer;
}

/**
 * Encodes many records into views of one allocation: a 10,000-pod list would otherwise make
 * 10,000 separate ~2.5 KB ArrayBuffers (too big for Buffer's pool), which showed up as a fifth of
 * replaceList's time. LevelDB copies values into its write batch, so the views are short-lived.
 */
export function encodeObjects(objs: readonly StoredObject[]): Buffer[] {
  const rvLens = objs.map((o) => Buffer.byteLength(o.resourceVersion));
  let total = 0;
  objs.forEach((o, i) => (total += HEADER + (rvLens[i] as number) + o.data.byteLength));
  const arena = Buffer.allocUnsafeSlow(total);
  const out: Buffer[] = new Array<Buffer>(objs.length);
  let at = 0;
  objs.forEach((o, i) => {
    const rvLen = rvLens[i] as number;
    const rec = arena.subarray(at, (at += HEADER + rvLen + o.data.byteLength));
    rec[0] = FORMAT;
    rec[1] = contentCode(o.contentType);
    rec.writeUInt16BE(rvLen, 6);
    rec.write(o.resourceVersion, HEADER, 'utf8');
    rec.set(o.data, HEADER + rvLen);
    rec.writeUInt32BE(crc32(rec.subarray(6)), 2);
    out[i] = rec;
  });
  return out;
}

/**
 * Decodes an object record. `data` is a view into `buf` (no copy): LevelDB hands us a fresh buffer
 * per value, so sharing it with the caller is safe. Throws YH_ERR_CACHE_CORRUPT naming `key`.
 */
export function decodeObject(key: string, buf: Uint8Array): StoredObject {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < HEADER) throw YurthubErrors.YH_ERR_CACHE_CORRUPT(key, 'record shorter than its header');
  if (b[0] !== FORMAT) throw YurthubErrors.YH_ERR_CACHE_CORRUPT(key, `unknown record format ${b[0]}`);
  const contentType = CONTENT_TYPES[b[1] as number];
  if (contentType === undefined) throw YurthubErrors.YH_ERR_CACHE_CORRUPT(key, `unknown content type code ${b[1]}`);
  const rvLen = b.readUInt16BE(6);
  if (HEADER + rvLen > b.length) throw YurthubErrors.YH_ERR_CACHE_CORRUPT(key, 'resourceVersion runs past the record');
  if (crc32(b.subarray(6)) !== b.readUInt32BE(2)) throw YurthubErrors.YH_ERR_CACHE_CORRUPT(key, 'checksum mismatch');
  return {
    contentType,
    resourceVersion: b.toString('utf8', HEADER, HEADER + rvLen),
    data: b.subarray(HEADER + rvLen),
  };
}

/** The serialized object's size inside a record, for stats, without verifying it. */
export function recordDataBytes(buf: Uint8Array): number {
  if (buf.byteLength < HEADER) return 0;
  const rvLen = ((buf[6] as number) << 8) | (buf[7] as number);
  return Math.max(0, buf.byteLength - HEADER - rvLen);
}

export function encodeListMeta(scope: ListScope, meta: ListMeta): Buffer {
  const stored: StoredListMeta = {
    resourceVersion: meta.resourceVersion,
    kind: meta.kind,
    apiVersion: meta.apiVersion,
    selectorKey: scope.selectorKey,
  };
  return Buffer.from(JSON.stringify(stored));
}

export function decodeListMeta(key: string, buf: Uint8Array): StoredListMeta {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8'));
  } catch (err) {
    throw YurthubErrors.YH_ERR_CACHE_CORRUPT(key, `list metadata is not JSON (${(err as Error).message})`);
  }
  const m = v as Partial<StoredListMeta> | null;
  if (
    m === null || typeof m !== 'object' || typeof m.resourceVersion !== 'string' || typeof m.kind !== 'string' ||
    typeof m.apiVersion !== 'string' || typeof m.selectorKey !== 'string'
  ) {
    throw YurthubErrors.YH_ERR_CACHE_CORRUPT(key, 'list metadata lacks a field');
  }
  return { resourceVersion: m.resourceVersion, kind: m.kind, apiVersion: m.apiVersion, selectorKey: m.selectorKey };
}

/**
 * The resourceVersion of a record without verifying its checksum, for the write path's "is the
 * stored one newer" check: undefined for an unreadable record, which the write then replaces.
 */
export function peekResourceVersion(buf: Uint8Array): string | undefined {
  if (buf.byteLength < HEADER || buf[0] !== FORMAT) return undefined;
  const rvLen = ((buf[6] as number) << 8) | (buf[7] as number);
  if (HEADER + rvLen > buf.byteLength) return undefined;
  return Buffer.from(buf.buffer, buf.byteOffset + HEADER, rvLen).toString('utf8');
}
