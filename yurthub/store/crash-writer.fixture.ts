/**
 * Child process for level-store.test.ts's crash test: opens the cache, says "ready", replaces the
 * pod list with `count` generated objects (saying "writing" as the batch starts) and says
 * "done <ms total> <ms since writing>". The test SIGKILLs it at a random moment
 * and checks that the reopened cache holds the old or the new list, never a mix.
 *
 *   node --import tsx crash-writer.fixture.ts <dir> <marker> <listRV> <firstIndex> <count>
 */
import { silentLogger } from '../../lib/logger.js';
import { LevelCacheStore } from './level-store.js';
import { CRASH_SCOPE, crashGeneration, meta } from './contract-fixtures.js';

async function main(argv: string[]): Promise<void> {
  const [dir, marker, listRV, first, count] = argv;
  if (!dir || !marker || !listRV || !first || !count) throw new Error('usage: <dir> <marker> <listRV> <firstIndex> <count>');
  const objects = crashGeneration(marker, listRV, Number(first), Number(count));
  // "writing" marks the moment the one batch goes to LevelDB, so the test can aim its kill there.
  let writingAt = 0;
  const beforeWrite = () => {
    writingAt = performance.now();
    process.stdout.write('writing\n');
  };
  const store = new LevelCacheStore({ dir, logger: silentLogger(), beforeWrite });
  await store.start();
  process.stdout.write('ready\n');
  const t0 = performance.now();
  await store.replaceList(CRASH_SCOPE, meta(listRV), objects);
  const end = performance.now();
  process.stdout.write(`done ${(end - t0).toFixed(1)} ${(end - writingAt).toFixed(1)}\n`);
  await store.close();
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
