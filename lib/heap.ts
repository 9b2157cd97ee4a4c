/**
 * The V8 setting the programs that move bulk bytes run with: the tunnel's server and agent, and
 * yurthub. Those bytes reach them as socket reads (and, in the hub, inflated gzip), each a Node
 * Buffer over an `ArrayBuffer` of its own that V8 counts as external memory. With few JavaScript
 * objects per byte, minor collections, which would free those buffers cheaply, come seldom, and V8
 * answers the external memory's growth with full collections instead: about 40 per GB moved in each
 * tunnel process, whose marking (the whole heap, 28 MB on a server) was a third of the server's CPU
 * in a profile; in the hub, 20–30 per 100 LISTs of a 10,000-endpoint list. Counted within the heap's
 * global limit, as this flag has V8 do, external memory moves that limit by the heap's own
 * heuristics: 2–3 full collections per 2 GB on the tunnel server and 14–22 on the agent in small
 * runs, CPU per GB down by a sixth to a third, peak RSS as before (docs/benchmarks.md, "Reading the
 * tunnel figures"); about half as many in the hub, whose CPU per such LIST fell by a quarter in a
 * reproduction (docs/benchmarks.md, "Response filters").
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
