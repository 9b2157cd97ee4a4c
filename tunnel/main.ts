#!/usr/bin/env node
// yurt-tunnel server|agent: argv and signals only; see <program>/options.ts → config.ts → start.ts.
import { runProgram, usageError, type Program } from '../lib/program.js';

type AnyProgram = Program<{ logLevel: string }, unknown>;
const USAGE = 'usage: yurt-tunnel server|agent [flags]   (yurt-tunnel <command> --help lists the flags)';
const programs: Record<string, () => Promise<AnyProgram>> = {
  server: async () => (await import('./server/program.js')).program as AnyProgram,
  agent: async () => (await import('./agent/program.js')).program as AnyProgram,
};
const [command = '', ...argv] = process.argv.slice(2);
// `yurt-tunnel -h` and `yurt-tunnel --version` are answered by runProgram before any parsing.
const topLevel = command.startsWith('-');
await runProgram(`yurt-tunnel${command && !topLevel ? ` ${command}` : ''}`, () => {
  const load = programs[command];
  if (topLevel) return { parseOptions: () => { throw usageError(USAGE); }, usage: () => USAGE, resolveConfig: () => undefined, start: () => Promise.reject(usageError(USAGE)) };
  if (!load) throw usageError(USAGE);
  return load();
}, topLevel ? [command, ...argv] : argv);
