/**
 * Runs one of the programs from its sources in a child process, as a user would run the binary, for
 * tests of what a user sees: the exit code and the lines on stdout and stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ProgramRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stderr without the program's JSON log lines: what a person reads. */
  errorLines: string[];
}

/**
 * `main` is a path from the repository root, e.g. 'yurthub/main.ts'. `onSpawn` sees the child as soon as it
 * exists (e.g. to have it killed if the caller's process exits first).
 */
export function runProgramProcess(main: string, args: string[], env: NodeJS.ProcessEnv = process.env, onSpawn?: (child: ChildProcess) => void): Promise<ProgramRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, main), ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const errorLines = stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
      resolve({ code, stdout, stderr, errorLines });
    });
  });
}
