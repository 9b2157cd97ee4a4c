/**
 * Tests only: EndpointSlices, Endpoints and Services between their JSON shape and protobuf, for the
 * fields the filters read plus a few they do not (which must come through untouched). Field numbers
 * from k8s.io/api generated.proto; maps written key-sorted and empty strings written, as the
 * apiserver's generated marshaller does. The decoder is also how the e2e test reads the hub's answers.
 */
import { decodeList, decodeUnknown, encodeListEnvelope, encodeUnknown, readObjectMeta } from '../../../lib/kube/protobuf.js';
import { ProtoReader, ProtoWriter } from '../../../lib/kube/protobuf-wire.js';

type Json = Record<string, unknown>;
type Meta = { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };

const API_VERSION: Record<string, string> = { EndpointSlice: 'discovery.k8s.io/v1', Endpoints: 'v1', Service: 'v1' };

function writeMap(w: ProtoWriter, field: number, map: Record<string, string> | undefined): void {
  for (const key of Object.keys(map ?? {}).sort()) w.messageField(field, (e) => e.stringField(1, key).stringField(2, map![key]!));
}

function writeMeta(w: ProtoWriter, m: Meta): void {
  w.messageField(1, (mw) => {
    mw.stringField(1, m.name ?? '').stringField(3, m.namespace ?? '');
    writeMap(mw, 11, m.labels);
    writeMap(mw, 12, m.annotations);
  });
}

/** One object's own message (what a list item is). */
export function encodeMessage(kind: string, obj: Json): Uint8Array {
  const w = new ProtoWriter();
  writeMeta(w, (obj.metadata ?? {}) as Meta);
  if (kind === 'EndpointSlice') {
    for (const e of (obj.endpoints ?? []) as Json[]) {
      w.messageField(2, (ew) => {
        for (const a of (e.addresses ?? []) as string[]) ew.stringField(1, a);
        if (e.conditions) ew.messageField(2, (c) => c.varintField(1, Boolean((e.conditions as Json).ready)));
        if (e.hostname !== undefined) ew.stringField(3, e.hostname as string);
        writeMap(ew, 5, e.deprecatedTopology as Record<string, string> | undefined);
        if (e.nodeName !== undefined) ew.stringField(6, e.nodeName as string);
        if (e.zone !== undefined) ew.stringField(7, e.zone as string);
      });
    }
    for (const p of (obj.ports ?? []) as Json[]) w.messageField(3, (pw) => pw.stringField(1, (p.name as string) ?? '').varintField(3, (p.port as number) ?? 0));
    w.stringField(4, (obj.addressType as string) ?? '');
  } else if (kind === 'Endpoints') {
    for (const s of (obj.subsets ?? []) as Json[]) {
      w.messageField(2, (sw) => {
        const address = (field: number) => (a: Json) => sw.messageField(field, (aw) => {
          aw.stringField(1, (a.ip as string) ?? '');
          if (a.nodeName !== undefined) aw.stringField(4, a.nodeName as string);
        });
        ((s.addresses ?? []) as Json[]).forEach(address(1));
        ((s.notReadyAddresses ?? []) as Json[]).forEach(address(2));
        for (const p of (s.ports ?? []) as Json[]) sw.messageField(3, (pw) => pw.stringField(1, (p.name as string) ?? '').varintField(2, (p.port as number) ?? 0));
      });
    }
  } else if (kind === 'Service') {
    const spec = (obj.spec ?? {}) as Json;
    w.messageField(2, (sw) => {
      for (const p of (spec.ports ?? []) as Json[]) sw.messageField(1, (pw) => pw.stringField(1, (p.name as string) ?? '').varintField(3, (p.port as number) ?? 0));
      sw.stringField(3, (spec.clusterIP as string) ?? '').stringField(4, (spec.type as string) ?? '');
    });
  } else throw new Error(`no test encoding for ${kind}`);
  return w.finish();
}

export function encodeObject(kind: string, obj: Json): Uint8Array {
  return encodeUnknown({ typeMeta: { apiVersion: API_VERSION[kind]!, kind }, raw: encodeMessage(kind, obj) });
}

export function encodeListBody(kind: string, items: Json[], resourceVersion = '7'): Uint8Array {
  return encodeListEnvelope({ apiVersion: API_VERSION[kind]!, kind: `${kind}List` }, { resourceVersion }, items.map((i) => encodeMessage(kind, i)));
}

function fields(buf: Uint8Array, each: (field: number, r: ProtoReader, wire: number) => void): void {
  const r = new ProtoReader(buf);
  while (!r.done) {
    const t = r.tag();
    const before = r.pos;
    each(t.field, r, t.wire);
    if (r.pos === before) r.skip(t.wire, t.field);
  }
}

function mapOf(entries: Array<[string, string]>): Record<string, string> | undefined {
  return entries.length === 0 ? undefined : Object.fromEntries(entries);
}

/** One object's own message back to the JSON shape encodeMessage takes (empty fields left out). */
export function decodeMessage(kind: string, raw: Uint8Array): Json {
  const m = readObjectMeta(raw);
  const metadata: Meta = { name: m.name, ...(m.namespace ? { namespace: m.namespace } : {}), ...(Object.keys(m.labels).length ? { labels: { ...m.labels } } : {}), ...(Object.keys(m.annotations).length ? { annotations: { ...m.annotations } } : {}) };
  const out: Json = { metadata };
  const str = (r: ProtoReader) => r.string();
  const entry = (r: ProtoReader): [string, string] => {
    let k = '';
    let v = '';
    fields(r.bytes(), (f, er) => (f === 1 ? (k = str(er)) : f === 2 ? (v = str(er)) : undefined));
    return [k, v];
  };
  if (kind === 'EndpointSlice') {
    const endpoints: Json[] = [];
    const ports: Json[] = [];
    fields(raw, (f, r) => {
      if (f === 2) {
        const e: Json = {};
        const addresses: string[] = [];
        const topo: Array<[string, string]> = [];
        fields(r.bytes(), (ef, er) => {
          if (ef === 1) addresses.push(str(er));
          else if (ef === 2) fields(er.bytes(), (cf, cr) => (cf === 1 ? (e.conditions = { ready: cr.bool() }) : undefined));
          else if (ef === 3) e.hostname = str(er);
          else if (ef === 5) topo.push(entry(er));
          else if (ef === 6) e.nodeName = str(er);
          else if (ef === 7) e.zone = str(er);
        });
        const t = mapOf(topo);
        endpoints.push({ addresses, ...e, ...(t ? { deprecatedTopology: t } : {}) });
      } else if (f === 3) {
        const p: Json = {};
        fields(r.bytes(), (pf, pr) => (pf === 1 ? (p.name = str(pr)) : pf === 3 ? (p.port = pr.varint()) : undefined));
        ports.push(p);
      } else if (f === 4) out.addressType = str(r);
    });
    Object.assign(out, { endpoints, ports });
  } else if (kind === 'Endpoints') {
    const subsets: Json[] = [];
    fields(raw, (f, r) => {
      if (f !== 2) return;
      const s: { addresses: Json[]; notReadyAddresses: Json[]; ports: Json[] } = { addresses: [], notReadyAddresses: [], ports: [] };
      fields(r.bytes(), (sf, sr) => {
        if (sf === 1 || sf === 2) {
          const a: Json = {};
          fields(sr.bytes(), (af, ar) => (af === 1 ? (a.ip = str(ar)) : af === 4 ? (a.nodeName = str(ar)) : undefined));
          (sf === 1 ? s.addresses : s.notReadyAddresses).push(a);
        } else if (sf === 3) {
          const p: Json = {};
          fields(sr.bytes(), (pf, pr) => (pf === 1 ? (p.name = str(pr)) : pf === 2 ? (p.port = pr.varint()) : undefined));
          s.ports.push(p);
        }
      });
      subsets.push(s);
    });
    out.subsets = subsets;
  } else if (kind === 'Service') {
    const spec: Json = {};
    fields(raw, (f, r) => {
      if (f !== 2) return;
      const ports: Json[] = [];
      fields(r.bytes(), (sf, sr) => {
        if (sf === 1) {
          const p: Json = {};
          fields(sr.bytes(), (pf, pr) => (pf === 1 ? (p.name = str(pr)) : pf === 3 ? (p.port = pr.varint()) : undefined));
          ports.push(p);
        } else if (sf === 3) spec.clusterIP = str(sr);
        else if (sf === 4) spec.type = str(sr);
      });
      spec.ports = ports;
    });
    out.spec = spec;
  }
  return out;
}

/** A protobuf LIST body's items, decoded; with the list's resourceVersion. */
export function decodeListBody(body: Uint8Array): { kind: string; resourceVersion: string; items: Json[] } {
  const u = decodeUnknown(body);
  const kind = u.typeMeta.kind.replace(/List$/, '');
  const list = decodeList(u.raw);
  return { kind: u.typeMeta.kind, resourceVersion: list.metadata.resourceVersion, items: list.items.map((i) => decodeMessage(kind, i)) };
}

/** A JSON object normalised to what decodeMessage yields, so both paths compare with toEqual. */
export function normalise(kind: string, obj: Json): Json {
  return decodeMessage(kind, encodeMessage(kind, obj));
}
