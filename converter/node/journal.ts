/**
 * What the node side changed, kept on the node itself so that revert needs nothing from the cloud:
 * for every file it writes, whether the file existed, its mode and a byte-exact backup; the folders it
 * created; and how far the conversion got. The journal is saved (atomically) before each file is
 * touched, so a process killed at any point leaves enough to finish or undo the work.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { readdir } from 'node:fs/promises';
import { ConverterErrors } from '../errors.js';
import type { HostFs } from './hostfs.js';

export const STATE_DIR = '/var/lib/yurt-edge';
export const JOURNAL_PATH = `${STATE_DIR}/node-state.json`;
export const BACKUP_DIR = `${STATE_DIR}/backup`;

/** `updating`: a converted node whose hub manifest is being replaced (hub-update.ts); revert works from either. */
export type NodePhase = 'staging' | 'hub-started' | 'switched' | 'converted' | 'updating';

/** The hub manifest a converted node runs: where it is and the chart hash it was written from (hub-manifest.ts). */
export interface HubRecord {
  path: string;
  sourceHash: string;
}

/** A hub update under way: the manifest that ran before it, for a rollback, and how to tell the new hub from the old. */
export interface HubUpdate {
  /** The previous manifest's copy (in BACKUP_DIR), its checksum and mode. */
  previous: string;
  sha256: string;
  mode: number;
  /** The old hub's identity (its process start time) before the rewrite; null if it could not be read. */
  oldHub: string | null;
  /** Whether kubelet runs another pod from the new manifest (false: only comments differ). */
  podChanged: boolean;
  startedAt: string;
}

export interface FileEntry {
  path: string;
  existed: boolean;
  mode: number | null;
  sha256: string | null;
  backup: string | null;
}

export interface JournalData {
  apiVersion: 'yurt-edge.io/v1';
  kind: 'NodeConversion';
  node: string;
  layout: string;
  phase: NodePhase;
  files: FileEntry[];
  /** Folders yurtctl created, outermost first. */
  createdDirs: string[];
  /** Folders others create because of the conversion (yurthub's cache) that did not exist before it. */
  removeOnRevert: string[];
  hubUrl: string;
  /** kubelet's kubeconfig before the conversion, and how kubelet is restarted: revert needs no detection. */
  kubeletKubeconfig: string;
  restart: string[][];
  startedAt: string;
  /** Set once converted (journals of older yurtctl versions lack it). */
  hub?: HubRecord;
  update?: HubUpdate;
  /** Node components other than kubelet pointed at the hub (edge-services.ts), and how to restart each after revert. */
  services?: Array<{ component: string; restart: string[][] }>;
  /** The hub's TLS listener the conversion set up (hub-address.ts); a hub update may not change it. */
  inCluster?: { address: string; port: number; certFile: string; keyFile: string };
  /** Host commands that undo what is not a file (the dummy interface), run after the files are restored. */
  undo?: string[][];
  /** Pods of this node restarted at conversion to take the hub's view (kube-proxy's DaemonSet, CoreDNS), and again at revert. */
  restartPods?: Array<{ namespace: string; selector: string }>;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

export class Journal {
  private constructor(private readonly fs: HostFs, readonly data: JournalData) {}

  static async load(fs: HostFs): Promise<Journal | undefined> {
    const raw = await fs.readIfExists(JOURNAL_PATH);
    if (!raw) return undefined;
    let data: JournalData;
    try {
      data = JSON.parse(raw.toString('utf8')) as JournalData;
    } catch (err) {
      throw ConverterErrors.CNV_ERR_NODE_FILE(`${JOURNAL_PATH} is not valid JSON (${(err as Error).message}): inspect it; the backups are in ${BACKUP_DIR}`);
    }
    if (data.kind !== 'NodeConversion' || !Array.isArray(data.files)) throw ConverterErrors.CNV_ERR_NODE_FILE(`${JOURNAL_PATH} is not a yurtctl node journal`);
    return new Journal(fs, data);
  }

  /** Starts a journal, creating the state folder (and remembering whether it had to). */
  static async begin(fs: HostFs, init: Pick<JournalData, 'node' | 'layout' | 'hubUrl' | 'kubeletKubeconfig' | 'restart'>, now: Date): Promise<Journal> {
    let created = await fs.mkdirs(BACKUP_DIR);
    if (created.length === 0 && (await isOnlyOurs(fs))) created = [STATE_DIR, BACKUP_DIR];
    const journal = new Journal(fs, {
      apiVersion: 'yurt-edge.io/v1',
      kind: 'NodeConversion',
      ...init,
      phase: 'staging',
      files: [],
      createdDirs: created,
      removeOnRevert: [],
      startedAt: now.toISOString(),
    });
    await journal.save();
    return journal;
  }

  async save(): Promise<void> {
    await this.fs.write(JOURNAL_PATH, `${JSON.stringify(this.data, null, 2)}\n`, 0o600);
  }

  async setPhase(phase: NodePhase): Promise<void> {
    this.data.phase = phase;
    await this.save();
  }

  entry(path: string): FileEntry | undefined {
    return this.data.files.find((f) => f.path === path);
  }

  /** The content `path` had before the conversion (undefined: it did not exist), from the backup once taken. */
  async original(path: string): Promise<Buffer | undefined> {
    const e = this.entry(path);
    if (!e) return this.fs.readIfExists(path);
    if (!e.existed || !e.backup) return undefined;
    return this.verifiedBackup(e);
  }

  /** Backs a file up once: a second call (a rerun after the file was rewritten) keeps the first backup. */
  async backup(path: string): Promise<void> {
    if (this.entry(path)) return;
    const data = await this.fs.readIfExists(path);
    let entry: FileEntry;
    if (data) {
      const backup = `${BACKUP_DIR}/${createHash('sha256').update(path).digest('hex').slice(0, 12)}-${posix.basename(path)}`;
      await this.fs.write(backup, data, 0o600);
      entry = { path, existed: true, mode: await this.fs.mode(path), sha256: sha256(data), backup };
    } else {
      entry = { path, existed: false, mode: null, sha256: null, backup: null };
    }
    const created = await this.fs.mkdirs(posix.dirname(path));
    this.data.createdDirs.push(...created.filter((d) => !this.data.createdDirs.includes(d)));
    this.data.files.push(entry);
    await this.save();
  }

  /** Writes a file yurtctl owns (after backing it up); returns false when it already had that content. */
  async write(path: string, data: Buffer | string, mode: number): Promise<boolean> {
    await this.backup(path);
    const want = Buffer.isBuffer(data) ? data : Buffer.from(data);
    const have = await this.fs.readIfExists(path);
    if (have && have.equals(want) && (await this.fs.mode(path)) === mode) return false;
    await this.fs.write(path, want, mode);
    return true;
  }

  async rememberToRemove(hostDir: string): Promise<void> {
    if (this.data.removeOnRevert.includes(hostDir) || (await this.fs.exists(hostDir))) return;
    this.data.removeOnRevert.push(hostDir);
    await this.save();
  }

  /** Puts every file back as it was, byte for byte and mode, newest change first. */
  async restoreFiles(): Promise<void> {
    for (const e of [...this.data.files].reverse()) {
      if (e.existed) await this.fs.write(e.path, await this.verifiedBackup(e), e.mode ?? 0o600);
      else await this.fs.remove(e.path);
    }
  }

  /**
   * Keeps the manifest the hub runs now for a rollback, before a hub update rewrites it; a resumed
   * update keeps the copy it took first (the last manifest known to work).
   */
  async beginUpdate(path: string, info: Pick<HubUpdate, 'oldHub' | 'podChanged'>, now: Date): Promise<HubUpdate> {
    if (this.data.update) return this.data.update;
    const data = await this.fs.read(path);
    const previous = `${BACKUP_DIR}/hub-update-previous-${posix.basename(path)}`;
    await this.fs.write(previous, data, 0o600);
    this.data.update = { previous, sha256: sha256(data), mode: await this.fs.mode(path), ...info, startedAt: now.toISOString() };
    this.data.phase = 'updating';
    await this.save();
    return this.data.update;
  }

  /** The update is over (done, or rolled back): the hub record says what runs now, the copy goes. */
  async endUpdate(hub: HubRecord | undefined): Promise<void> {
    const previous = this.data.update?.previous;
    if (hub) this.data.hub = hub;
    delete this.data.update;
    this.data.phase = 'converted';
    await this.save();
    if (previous) await this.fs.remove(previous);
  }

  /** The manifest the hub ran before the update, checked against its checksum. */
  async previousManifest(): Promise<{ data: Buffer; mode: number }> {
    const u = this.data.update;
    if (!u) throw ConverterErrors.CNV_ERR_INTERNAL('no hub update under way');
    const data = await this.fs.read(u.previous);
    if (sha256(data) !== u.sha256) throw ConverterErrors.CNV_ERR_NODE_FILE(`${u.previous}, the copy of the previous hub manifest, does not match its checksum: not restoring it`);
    return { data, mode: u.mode };
  }

  /** Removes the backups, the journal, the folders yurtctl created and what others created because of it. */
  async cleanup(): Promise<void> {
    for (const dir of this.data.removeOnRevert) await this.fs.remove(dir);
    for (const e of this.data.files) if (e.backup) await this.fs.remove(e.backup);
    if (this.data.update) await this.fs.remove(this.data.update.previous);
    await this.fs.remove(JOURNAL_PATH);
    for (const dir of [...this.data.createdDirs].reverse()) await this.fs.removeEmptyDir(dir);
  }

  private async verifiedBackup(e: FileEntry): Promise<Buffer> {
    const data = await this.fs.read(e.backup!);
    if (sha256(data) !== e.sha256) throw ConverterErrors.CNV_ERR_NODE_FILE(`backup ${e.backup} of ${e.path} does not match its checksum: not restoring it`);
    return data;
  }
}

/** A write a killed run left half done: lib/atomic-file.ts's `.<name>.tmp`, or an older yurtctl's `<name>.yurtctl-tmp`. */
const isTemporary = (name: string) => (name.startsWith('.') && name.endsWith('.tmp')) || name.endsWith('.yurtctl-tmp');

/** A state folder that holds nothing but an empty backup folder was created by a run killed before its journal. */
async function isOnlyOurs(fs: HostFs): Promise<boolean> {
  try {
    const top = await readdir(fs.real(STATE_DIR));
    if (top.some((e) => e !== 'backup' && !isTemporary(e))) return false;
    return (await readdir(fs.real(BACKUP_DIR))).every(isTemporary);
  } catch {
    return false;
  }
}
