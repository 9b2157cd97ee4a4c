/** Every error code a program can emit has a row in docs/errors.md, and every row names a real code. */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '..', '..');
const catalogues = ['yurthub', 'tunnel', 'converter', 'manager', 'lib/kube']
  .map((dir) => join(root, dir, 'errors.ts'))
  .filter(existsSync);

async function allCodes(): Promise<Map<string, number>> {
  const codes = new Map<string, number>();
  for (const file of catalogues) {
    const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    for (const exported of Object.values(mod)) {
      if (!exported || typeof exported !== 'object') continue;
      for (const value of Object.values(exported as Record<string, unknown>)) {
        const def = value as { code?: unknown; statusCode?: unknown };
        if (typeof value === 'function' && typeof def.code === 'string' && typeof def.statusCode === 'number') {
          codes.set(def.code, def.statusCode);
        }
      }
    }
  }
  return codes;
}

function documentedRows(): Map<string, number> {
  const doc = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
  const rows = new Map<string, number>();
  for (const m of doc.matchAll(/^\|\s*`?([A-Z]+_ERR_[A-Z0-9_]+)`?\s*\|\s*(\d{3})\s*\|/gm)) rows.set(m[1]!, Number(m[2]));
  return rows;
}

describe('docs/errors.md', () => {
  it('documents every error code with its status', async () => {
    const codes = await allCodes();
    const rows = documentedRows();
    const missing = [...codes.keys()].filter((c) => !rows.has(c));
    expect(missing, 'codes without a row in docs/errors.md').toEqual([]);
    for (const [code, status] of codes) expect(rows.get(code), code).toBe(status);
  });

  it('lists no code that no program defines', async () => {
    const codes = await allCodes();
    const stale = [...documentedRows().keys()].filter((c) => !codes.has(c));
    expect(stale).toEqual([]);
  });
});
