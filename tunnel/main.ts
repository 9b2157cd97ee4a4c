#!/usr/bin/env node
// yurt-tunnel server|agent: argv and signals only; see <program>/options.ts → config.ts → start.ts.
import { runProgram, usageError, type Program } from '../lib/program.js';

type AnyProgram = Program<{ logLevel: string }, unknown>;
const programs: Record<string, () => Promise<AnyProgram>> = {
  server: async () => (await import('./server/program.js')).program as AnyProgram,
  agent: async () => (await import('./agent/program.js')).program as AnyProgram,
};
const [command = '', ...argv] = process.argv.slice(2);
await runProgram(`yurt-tunnel${command ? ` ${command}` : ''}`, () => {
  const load = programs[command];
  if (!load) throw usageError('usage: yurt-tunnel server|agent [flags]   (yurt-tunnel <command> --help lists the flags)');
  return load();
}, argv);
