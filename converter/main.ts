#!/usr/bin/env node
// yurtctl: argv in, exit code out; lib/program.ts's runCommand owns the error line, signals and the
// exit. See options.ts → config.ts → commands.ts, dispatched by start.ts.
import { runCommand } from '../lib/program.js';

await runCommand('yurtctl', async () => (await import('./start.js')).yurtctl, process.argv.slice(2));
