/**
 * `npm run demo`: edge autonomy on a real local control plane, narrated. On real nodes (containers
 * running systemd, containerd and kubelet) where this machine's Docker can run them, on hollow nodes
 * (real kubelet code, no container runtime) otherwise; `--real` / `--hollow` choose. `--keep` leaves it
 * running. Ctrl-C or any failure stops everything the demo started.
 */
import { spawnSync } from 'node:child_process';
import { goVersion, harnessBinary, helmBinary } from '../test/cluster/binary.js';
import { realNodesUnavailableReason } from '../test/cluster/real/skip-reason.js';
import { runHollow } from './hollow.js';
import { say, step } from './narrate.js';
import { runReal } from './real.js';
import { Teardown } from './teardown.js';

const args = process.argv.slice(2);
const keep = args.includes('--keep');
const unknown = args.filter((a) => !['--keep', '--real', '--hollow'].includes(a));
if (unknown.length || (args.includes('--real') && args.includes('--hollow'))) {
  console.error(`demo: ${unknown.length ? `unknown argument ${unknown[0]}` : '--real and --hollow exclude each other'} (usage: npm run demo -- [--keep] [--real|--hollow])`);
  process.exit(2);
}
const teardown = new Teardown();

async function buildIfMissing(): Promise<void> {
  if (harnessBinary() && helmBinary()) return;
  if (!goVersion()) {
    console.error('demo: needs Go >= 1.26 to build the local Kubernetes control plane and helm: install it from https://go.dev/dl and run `npm run demo` again.');
    process.exit(1);
  }
  await step('Building the local Kubernetes control plane and helm (once; a cold build takes about 18 minutes)', async () => {
    const built = spawnSync(process.execPath, ['--import', 'tsx', 'test/cluster/build.ts'], { stdio: 'inherit' });
    if (built.status !== 0) throw new Error('harness build failed');
  });
}

async function main(): Promise<void> {
  await buildIfMissing();
  const unavailable = args.includes('--hollow') ? 'asked for with --hollow' : realNodesUnavailableReason();
  if (unavailable && args.includes('--real')) {
    console.error(`demo: --real: real nodes cannot run here: ${unavailable}`);
    process.exit(2);
  }
  if (unavailable) {
    say(`Hollow nodes (${unavailable}); real nodes need Docker, mmdebstrap and gcc: docs/testing.md, "Real nodes".`);
    await runHollow(teardown, keep);
  } else {
    await runReal(teardown, keep);
  }
  await teardown.stop(0);
}

main().catch(async (err: unknown) => {
  console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
  await teardown.stop(1);
});
