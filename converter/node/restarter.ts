/**
 * Restarting kubelet through the host: the Job shares the host's PID namespace, so `nsenter -t 1`
 * runs systemctl in the host's mount, UTS, IPC, network and PID namespaces. `--restart-command`
 * replaces it (a shell command), and tests inject a function (e.g. restarting a hollow node).
 */
import { spawn } from 'node:child_process';
import { ConverterErrors } from '../errors.js';

export type Restarter = (why: 'convert' | 'rollback' | 'revert') => Promise<void>;

const NSENTER = ['nsenter', '-t', '1', '-m', '-u', '-i', '-n', '-p', '--'];
const TIMEOUT_MS = 180_000;

function run(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(ConverterErrors.CNV_ERR_INTERNAL(`${argv.join(' ')}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(ConverterErrors.CNV_ERR_INTERNAL(`${argv.join(' ')} exited ${code ?? signal}${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`));
    });
  });
}

/** The layout's systemctl commands, run in the host's namespaces. */
export function hostRestarter(commands: string[][]): Restarter {
  return async () => {
    for (const cmd of commands) await run([...NSENTER, ...cmd]);
  };
}

/** `--restart-command`: one shell command line. */
export function shellRestarter(command: string): Restarter {
  return () => run(['/bin/sh', '-c', command]);
}
