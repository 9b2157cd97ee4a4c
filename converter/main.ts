#!/usr/bin/env node
// yurtctl: argv in, exit code out; see options.ts → config.ts → start.ts.
import { run } from './start.js';

const code = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });
// Flush stdout/stderr before leaving (pipes are asynchronous); nothing else may keep the process alive.
process.exitCode = code;
setImmediate(() => process.exit(code));
