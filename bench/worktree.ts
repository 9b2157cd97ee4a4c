/**
 * Another revision of the repository, checked out beside it (`git worktree add`) so a suite can measure
 * it in the same run as the working tree: same machine, same moment, same control plane. The checkout
 * sees the repository's node_modules through a symlink; dependencies are not what is compared.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './hub-process.js';

export interface Checkout {
  dir: string;
  /** Short hash, for the report. */
  label: string;
  /** The commit's subject line, cut to what fits a sentence. */
  subject: string;
  remove(): void;
}

/** git's output; a failure is git's own message, not a stack of execFileSync internals. */
function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    throw new Error(`git ${args.join(' ')}: ${String((err as { stderr?: unknown }).stderr ?? err).trim()}`);
  }
}

/** `rev` is anything git names a commit by (a hash, a branch, HEAD~2). */
export function checkout(rev: string): Checkout {
  const hash = git(['rev-parse', '--verify', '--end-of-options', `${rev}^{commit}`]);
  const dir = mkdtempSync(join(tmpdir(), 'yurt-bench-rev-'));
  try {
    git(['worktree', 'add', '--detach', '--quiet', dir, hash]);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const modules = join(dir, 'node_modules');
  const remove = () => {
    // The link goes first: whatever removes the folder then never walks into the repository's node_modules.
    rmSync(modules, { force: true });
    try {
      git(['worktree', 'remove', '--force', dir]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      git(['worktree', 'prune']);
    }
  };
  try {
    symlinkSync(join(ROOT, 'node_modules'), modules, 'dir');
    return { dir, label: git(['log', '-1', '--format=%h', hash]), subject: git(['log', '-1', '--format=%<(72,trunc)%s', hash]), remove };
  } catch (err) {
    remove();
    throw err;
  }
}

/** The working tree as the report names it: HEAD, and whether `paths` have uncommitted changes. */
export function workingTreeLabel(paths: string[]): string {
  const head = git(['log', '-1', '--format=%h', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--', ...paths]) !== '';
  return `working tree (HEAD ${head}${dirty ? ' + uncommitted changes' : ''})`;
}
