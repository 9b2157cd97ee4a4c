#!/usr/bin/env node
// yurt-static-pod-upgrade: YurtStaticSet's one-shot upgrade worker (a pod yurt-manager pins to a node). argv only; see command.ts.
import { runCommand } from '../../lib/program.js';
import { staticPodUpgrade } from './command.js';

await runCommand('yurt-static-pod-upgrade', () => staticPodUpgrade, process.argv.slice(2));
