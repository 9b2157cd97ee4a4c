/**
 * A LIST read the way a client has to read it before it can use it: the answer's bytes taken as they
 * come, a gzip body inflated by node:zlib while it arrives (what a Node client does; client-go's gzip
 * reader inflates as it reads too), then the whole body decoded: JSON by JSON.parse, protobuf by the
 * k8s envelope and list (lib/kube/protobuf.ts) and every field of every item.
 */
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { decodeList, decodeUnknown } from '../lib/kube/protobuf.js';
import { ProtoReader, WireType } from '../lib/kube/protobuf-wire.js';
import type { Endpoint } from './http.js';

export interface ListTimes {
  /** Request to the answer's last byte on the socket (gzip or plain, as it came). */
  lastByte: number;
  /** Request to the list decoded: inflated if gzip, then parsed (JSON) or decoded item by item (protobuf). */
  decoded: number;
  wireBytes: number;
  plainBytes: number;
  items: number;
}

const utf8 = new TextDecoder();
/** Below this a string is read byte by byte in JavaScript: a call into the decoder costs more (protobuf.js does the same). */
const SHORT_STRING = 48;

/**
 * Whether a length-delimited payload parses as a protobuf message (tags, varints and lengths all
 * within it; groups not accepted), without throwing: most payloads that do not are strings, and an
 * exception per string would cost far more than a client's decoding does.
 */
function parsesAsMessage(b: Uint8Array): boolean {
  const n = b.length;
  if (n === 0) return false;
  let p = 0;
  while (p < n) {
    let key = 0;
    let scale = 1;
    for (;;) {
      if (p >= n || scale > 2 ** 28) return false;
      const x = b[p++]!;
      key += (x & 0x7f) * scale;
      if (x < 0x80) break;
      scale *= 128;
    }
    if (key < 8) return false;
    const wire = key & 7;
    if (wire === WireType.Varint) {
      for (let i = 0; ; i++) {
        if (p >= n || i === 10) return false;
        if (b[p++]! < 0x80) break;
      }
    } else if (wire === WireType.Fixed64) p += 8;
    else if (wire === WireType.Fixed32) p += 4;
    else if (wire === WireType.LengthDelimited) {
      let len = 0;
      scale = 1;
      for (;;) {
        if (p >= n || scale > 2 ** 28) return false;
        const x = b[p++]!;
        len += (x & 0x7f) * scale;
        if (x < 0x80) break;
        scale *= 128;
      }
      p += len;
    } else return false;
    if (p > n) return false;
  }
  return true;
}

function readString(b: Uint8Array): string {
  if (b.length > SHORT_STRING) return utf8.decode(b);
  let s = '';
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c >= 0x80) return utf8.decode(b);
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * Every field of a message, the way a generated decoder visits them: varints and fixed values read,
 * length-delimited ones decoded as nested messages where they parse as one, else read as strings.
 * The repository has no generated (complete) EndpointSlice decoder; this reads every byte of every
 * item and builds a value for each field, so its work grows with the bytes as a real client's does.
 */
export function decodeMessage(b: Uint8Array, depth = 0): Array<[number, unknown]> {
  const out: Array<[number, unknown]> = [];
  const r = new ProtoReader(b);
  while (!r.done) {
    const t = r.tag();
    switch (t.wire) {
      case WireType.Varint: {
        const at = r.pos;
        try {
          out.push([t.field, r.varint()]);
        } catch {
          r.pos = at; // beyond 2^53: a negative int32/int64
          out.push([t.field, r.varint64()]);
        }
        break;
      }
      case WireType.Fixed64: out.push([t.field, r.fixed64()]); break;
      case WireType.Fixed32: out.push([t.field, r.fixed32()]); break;
      case WireType.LengthDelimited: {
        const v = r.bytes();
        out.push([t.field, depth < 32 && parsesAsMessage(v) ? decodeMessage(v, depth + 1) : readString(v)]);
        break;
      }
      default: r.skip(t.wire, t.field);
    }
  }
  return out;
}

/** The client's decode of a whole list body; returns its item count. */
export function decodeListBody(body: Buffer, protobuf: boolean): number {
  if (!protobuf) return (JSON.parse(body.toString('utf8')) as { items: unknown[] }).items.length;
  const list = decodeList(decodeUnknown(body).raw);
  let n = 0;
  for (const item of list.items) n += decodeMessage(item).length > 0 ? 1 : 0;
  return n;
}

/** One GET of a list, timed to its last byte and to the decoded list. */
export function timedList(ep: Endpoint, path: string, headers: OutgoingHttpHeaders): Promise<ListTimes> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = httpRequest({ host: ep.base.hostname, port: ep.base.port, path, agent: ep.agent, headers }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`GET ${ep.base.origin}${path} answered ${res.statusCode}`));
      }
      const protobuf = (res.headers['content-type'] ?? '').includes('protobuf');
      const gzip = (res.headers['content-encoding'] ?? '') === 'gzip';
      let lastByte = 0;
      let wireBytes = 0;
      res.on('data', (c: Buffer) => (wireBytes += c.length));
      res.once('end', () => (lastByte = performance.now() - t0));
      res.once('error', reject);
      const body: Readable = gzip ? res.pipe(createGunzip()) : res;
      const chunks: Buffer[] = [];
      body.on('data', (c: Buffer) => chunks.push(c));
      body.once('error', reject);
      body.once('end', () => {
        try {
          const plain = Buffer.concat(chunks);
          const items = decodeListBody(plain, protobuf);
          resolve({ lastByte, decoded: performance.now() - t0, wireBytes, plainBytes: plain.length, items });
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.once('error', reject);
    req.end();
  });
}
