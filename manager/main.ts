#!/usr/bin/env node
// yurt-manager: the cloud-side controllers (autonomy, NodePool, YurtAppSet, daemonpodupdater). argv and signals only; see options.ts → config.ts → start.ts.
import { runProgram } from '../lib/program.js';
import { resolveConfig } from './config.js';
import { parseOptions, usage } from './options.js';
import { startManager } from './start.js';

await runProgram('yurt-manager', () => ({ parseOptions, usage, resolveConfig, start: startManager }), process.argv.slice(2));
