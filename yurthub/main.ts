#!/usr/bin/env node
// yurthub: the edge node proxy. argv and signals only; see options.ts → config.ts → start.ts.
import { runProgram } from '../lib/program.js';
import { resolveConfig } from './config.js';
import { parseOptions, usage } from './options.js';
import { startHub } from './start.js';

await runProgram('yurthub', () => ({ parseOptions, usage, resolveConfig, start: startHub }), process.argv.slice(2));
