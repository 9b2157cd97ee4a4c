/**
 * `npm run bench`: runs the benchmark suites and writes each one's section of docs/benchmarks.md.
 * `npm run bench -- yurthub` runs only the named suites. Benchmarks are never part of `npm test`.
 * `IDLE_BASE=<git rev> npm run bench -- idle` sets the idle suite's figures against that revision's (bench/idle.ts);
 * `LINK_BASE=<git rev> npm run bench -- cloud-link` does the same for the cloud link's bytes (bench/cloud-link.ts).
 */
import { join } from 'node:path';
import { runCloudLinkBench } from './cloud-link.js';
import { ROOT } from './hub-process.js';
import { runFiltersBench } from './filters.js';
import { runHubMetricsBench } from './hub-metrics.js';
import { runIdleBench } from './idle.js';
import { runPoolsBench } from './pools.js';
import { runRelayBench } from './relay.js';
import { writeSection } from './report.js';
import { runTunnelBench } from './tunnel.js';
import { runYurthubBench } from './yurthub.js';

const SUITES: Record<string, () => Promise<{ markdown: string }>> = {
  yurthub: runYurthubBench,
  relay: runRelayBench,
  tunnel: runTunnelBench,
  idle: runIdleBench,
  filters: runFiltersBench,
  'hub-metrics': runHubMetricsBench,
  'cloud-link': runCloudLinkBench,
  pools: runPoolsBench,
};

const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!SUITES[name]) {
    console.error(`unknown suite "${name}"; suites: ${Object.keys(SUITES).join(', ')}`);
    process.exit(2);
  }
}

const file = join(ROOT, 'docs', 'benchmarks.md');
for (const name of wanted.length ? wanted : Object.keys(SUITES)) {
  const { markdown } = await SUITES[name]!();
  writeSection(file, name, markdown);
  console.log(`\n${markdown}\n\nwrote the ${name} section of ${file}`);
}
