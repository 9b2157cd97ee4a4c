/** The CLI's own release version (package.json), which every image it installs is pinned to. */
import { join } from 'node:path';
import { packageRoot, packageVersion } from '../lib/version.js';

export function cliVersion(): string {
  return packageVersion();
}

/** The chart shipped with the CLI. */
export function defaultChartPath(): string {
  return join(packageRoot(), 'charts', 'yurt-edge');
}
