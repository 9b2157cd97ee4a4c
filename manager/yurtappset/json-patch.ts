/**
 * RFC 6902 add / remove / replace on a plain JSON value, the three operations OpenYurt's
 * workloadTweaks patches allow, with RFC 6901 pointers (`~1` is `/`, `~0` is `~`; `-` appends).
 * Returns a new value; throws an Error naming the path when the patch does not apply.
 */
import type { JsonPatchOp } from './types.js';

type Json = unknown;

function tokens(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new Error(`path "${path}" must start with "/"`);
  return path.slice(1).split('/').map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function index(token: string, length: number, allowEnd: boolean, path: string): number {
  if (allowEnd && token === '-') return length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new Error(`path "${path}": "${token}" is not an array index`);
  const i = Number(token);
  if (i > length || (!allowEnd && i === length)) throw new Error(`path "${path}": index ${i} is out of range`);
  return i;
}

export function applyJsonPatch(doc: Json, ops: readonly JsonPatchOp[]): Json {
  let out = structuredClone(doc);
  for (const op of ops) out = applyOne(out, op);
  return out;
}

function applyOne(doc: Json, op: JsonPatchOp): Json {
  const toks = tokens(op.path);
  if (!['add', 'remove', 'replace'].includes(op.operation)) throw new Error(`path "${op.path}": unknown operation "${op.operation}"`);
  if (!toks.length) {
    if (op.operation === 'remove') throw new Error('cannot remove the whole object');
    return structuredClone(op.value);
  }
  let parent: Json = doc;
  for (const t of toks.slice(0, -1)) {
    if (Array.isArray(parent)) parent = parent[index(t, parent.length, false, op.path)];
    else if (parent && typeof parent === 'object' && Object.hasOwn(parent, t)) parent = (parent as Record<string, Json>)[t];
    else throw new Error(`path "${op.path}": "${t}" does not exist`);
  }
  const last = toks.at(-1)!;
  if (Array.isArray(parent)) {
    const i = index(last, parent.length, op.operation === 'add', op.path);
    if (op.operation === 'add') parent.splice(i, 0, structuredClone(op.value));
    else if (op.operation === 'remove') parent.splice(i, 1);
    else parent[i] = structuredClone(op.value);
    return doc;
  }
  if (!parent || typeof parent !== 'object') throw new Error(`path "${op.path}": parent is not an object or array`);
  const obj = parent as Record<string, Json>;
  if (op.operation !== 'add' && !Object.hasOwn(obj, last)) throw new Error(`path "${op.path}": "${last}" does not exist`);
  if (op.operation === 'remove') delete obj[last];
  else obj[last] = structuredClone(op.value);
  return doc;
}
