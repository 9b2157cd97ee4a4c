/**
 * A harness control plane on a state folder of the test's choosing, so it can be stopped, its etcd
 * data folder copied (a file-level backup of a stopped etcd is a valid one), and started again on
 * that copy: an etcd restore, RVs, UIDs and all. The harness writes new PKI on every start, so each
 * start comes with a new CA and port (the test says how its hub copes); LocalCluster always starts
 * on a fresh folder, hence this small sibling.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { harnessBinary } from '../../cluster/binary.js';
import type { ClusterInfo } from '../../cluster/local-cluster.js';
import { startProcess, waitFor, type ManagedProcess } from '../../cluster/process.js';

export class RestorableControlPlane {
  private constructor(
    readonly dir: string,
    readonly info: ClusterInfo,
    private readonly proc: ManagedProcess,
  ) {}

  /** Starts the control plane on `dir`, reusing the etcd data already there. */
  static async start(dir: string): Promise<RestorableControlPlane> {
    const binary = harnessBinary();
    if (!binary) throw new Error('the harness binary is not built: run `npm run harness:build`');
    mkdirSync(dir, { recursive: true });
    const infoFile = join(dir, 'cluster.json');
    rmSync(infoFile, { force: true });
    const log = join(dir, 'controlplane.log');
    const proc = startProcess(binary, ['controlplane', `--dir=${dir}`], log);
    try {
      await Promise.race([
        waitFor('the control plane to write cluster.json', async () => existsSync(infoFile), 180_000, 100),
        proc.exited.then((code) => {
          throw new Error(`control plane exited with ${code}; see ${log}`);
        }),
      ]);
    } catch (err) {
      await proc.stop();
      throw err;
    }
    return new RestorableControlPlane(dir, JSON.parse(readFileSync(infoFile, 'utf8')) as ClusterInfo, proc);
  }

  get port(): number {
    return Number(new URL(this.info.server).port);
  }

  core(): k8s.CoreV1Api {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(this.info.adminKubeconfig);
    return kc.makeApiClient(k8s.CoreV1Api);
  }

  /** Stops it cleanly (etcd closes its files), so the folder can be copied. */
  stop(): Promise<void> {
    return this.proc.stop();
  }

  /** Copies the etcd data of a stopped control plane in `dir` to `to`. */
  static backupEtcd(dir: string, to: string): void {
    cpSync(join(dir, 'etcd'), to, { recursive: true });
  }

  /** Puts a backup made by backupEtcd in place of the etcd data of a stopped control plane in `dir`. */
  static restoreEtcd(dir: string, from: string): void {
    rmSync(join(dir, 'etcd'), { recursive: true, force: true });
    cpSync(from, join(dir, 'etcd'), { recursive: true });
  }
}
