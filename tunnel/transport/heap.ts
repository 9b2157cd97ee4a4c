/**
 * The V8 setting the tunnel's processes run with. Bulk data reaches them as socket reads, and every
 * read is a Node Buffer over an `ArrayBuffer` of its own (64 KiB for TCP, four TLS records for TLS)
 * that V8 counts as external memory. The server and the agent allocate few JavaScript objects per
 * byte they move, so minor collections, which would free those buffers cheaply, come seldom, and V8
 * answers the external memory's growth with full collections instead: about 40 per GB moved in each
 * process, whose marking (the whole heap, 28 MB on a server) was a third of the server's CPU in a
 * profile. Counted within the heap's global limit, as this flag has V8 do, external memory moves that
 * limit by the heap's own heuristics: 2–3 full collections per 2 GB on the server and 14–22 on the
 * agent in small runs, CPU per GB down by a sixth to a third, peak RSS as before
 * (docs/benchmarks.md, "Reading the tunnel figures").
 */
import { setFlagsFromString } from 'node:v8';

const FLAG = '--external-memory-accounted-in-global-limit';
let applied = false;

/** Sets the flag once per process; it takes effect for the collections that follow. */
export function tuneHeapForStreams(): void {
  if (applied) return;
  applied = true;
  setFlagsFromString(FLAG);
}
