/**
 * A gzip body inflated on the calling thread, chunk by chunk as it arrives, for the filtered GET or
 * LIST (relay.ts): each chunk's plain bytes are ready when push() returns, so the answer waits for no
 * thread-pool round trip (node:zlib's streams do one per write, and each is a wake-up that waits its
 * turn on a busy node). Only the last chunk's inflate is left at the body's end.
 *
 * It drives node:zlib's own engine (the same zlib, multi-member and trailing-zero rules as
 * createGunzip) through the synchronous write its handle offers to zlib.gunzipSync. That write is
 * not a documented API: when a Node build does not have it, the body is collected and inflated
 * whole with zlib.gunzipSync at end(), which is slower at the end but the same bytes.
 */
import { constants as Z, createGunzip, gunzipSync, type Gunzip } from 'node:zlib';

export interface SyncGunzip {
  /** The plain bytes this chunk completes, in order (often none at the start, views of a shared slab). Throws on bytes that are not gzip. */
  push(chunk: Uint8Array): Buffer[];
  /** The last plain bytes; throws when the gzip stream stopped short of its end. */
  end(): Buffer[];
  /** Frees zlib's memory now (idempotent); after end() or an error, or to give up. */
  close(): void;
}

/** What the synchronous engine needs of a Gunzip stream's internals (Node's lib/zlib.js). */
interface ZlibInternals {
  _handle?: { writeSync?: (flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number) => void } | null;
  _writeState?: Uint32Array;
}

/** Output slab: a 10,000-endpoint list's ~0.8 MB comes out in a few slabs, kept items stay views into them. */
const SLAB = 256 * 1024;

export function syncGunzip(options: { engine?: 'native' | 'whole' } = {}): SyncGunzip {
  if (options.engine !== 'whole') {
    const zlib = createGunzip();
    const internals = zlib as unknown as ZlibInternals;
    if (typeof internals._handle?.writeSync === 'function' && internals._writeState instanceof Uint32Array) return new NativeGunzip(zlib);
    zlib.destroy();
  }
  return new WholeGunzip();
}

class NativeGunzip implements SyncGunzip {
  private slab = Buffer.allocUnsafe(SLAB);
  private used = 0;
  private closed = false;
  private readonly state: Uint32Array;
  private readonly write: NonNullable<NonNullable<ZlibInternals['_handle']>['writeSync']>;

  constructor(private readonly zlib: Gunzip) {
    const internals = zlib as unknown as ZlibInternals;
    const handle = internals._handle!;
    this.write = handle.writeSync!.bind(handle);
    this.state = internals._writeState!;
    // A zlib error destroys the stream, which emits it later: push() throws it instead.
    zlib.on('error', () => {});
  }

  push(chunk: Uint8Array): Buffer[] {
    return this.run(chunk, Z.Z_SYNC_FLUSH);
  }

  end(): Buffer[] {
    // Z_FINISH with no input: zlib answers "unexpected end of file" unless the stream is complete.
    const out = this.run(new Uint8Array(0), Z.Z_FINISH);
    this.close();
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.zlib.destroy();
  }

  private run(input: Uint8Array, flush: number): Buffer[] {
    if (this.closed) throw new Error('the gzip stream is closed');
    const made: Buffer[] = [];
    let inOff = 0;
    let inLen = input.length;
    for (;;) {
      const outLen = this.slab.length - this.used;
      this.write(flush, input, inOff, inLen, this.slab, this.used, outLen);
      if (this.zlib.errored) {
        this.closed = true;
        throw this.zlib.errored;
      }
      const outLeft = this.state[0]!;
      const inLeft = this.state[1]!;
      const have = outLen - outLeft;
      if (have > 0) made.push(this.slab.subarray(this.used, this.used + have));
      this.used += have;
      inOff += inLen - inLeft;
      inLen = inLeft;
      if (this.used === this.slab.length) {
        this.slab = Buffer.allocUnsafe(SLAB);
        this.used = 0;
      }
      // Room left in the output: zlib took all it could of the input.
      if (outLeft > 0) return made;
    }
  }
}

/** Without the synchronous engine: the body inflated whole at its end, by the documented API. */
class WholeGunzip implements SyncGunzip {
  private chunks: Uint8Array[] = [];

  push(chunk: Uint8Array): Buffer[] {
    this.chunks.push(chunk);
    return [];
  }

  end(): Buffer[] {
    const body = gunzipSync(Buffer.concat(this.chunks));
    this.chunks = [];
    return body.length > 0 ? [body] : [];
  }

  close(): void {
    this.chunks = [];
  }
}
