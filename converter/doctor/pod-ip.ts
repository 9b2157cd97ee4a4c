/**
 * The `pod-ip` check, pure: whether a pod on this node keeps its address across an offline reboot
 * (converter/node/pod-ip.ts). `yurtctl node convert` puts `yurt-host-local` next to every `host-local`
 * in the CNI plugin folders and names it in every CNI configuration whose IPAM was host-local; a hub
 * update (convert again on a converted node) does neither. So a converted node whose configuration
 * still names plain host-local (converted by an earlier yurtctl), or whose wrapper is not the one this
 * yurtctl writes, is told to revert and convert again; a CNI without host-local IPAM keeps pod IPs its
 * own way, which is not ours to judge. Gathering (the host files) is in node-doctor.ts.
 */
import { createHash } from 'node:crypto';
import { CNI_BIN_DIRS, CNI_CONF_DIR, cniConfiguration, POD_IP_IPAM, podIpIpamScript } from '../node/pod-ip.js';
import { fixes } from './checks.js';
import { fail, ok, warn, type Finding, type Status } from './finding.js';

export const POD_IP_CHECK = 'pod-ip';
const HOST_LOCAL = 'host-local';
const DOCS = 'docs/converter.md, "Offline reboot and pod IPs"';

/** One plugin of a CNI configuration: its type and its IPAM's type (none: no `ipam` object). */
export interface CniPlugin {
  type: string;
  ipam?: string;
}

/** A file of the CNI configuration folder: its plugins, or why they could not be read. */
export interface CniConfView {
  path: string;
  plugins?: CniPlugin[];
  error?: string;
}

/** One CNI plugin folder that exists: whether host-local is there, and the wrapper as found. */
export interface CniBinView {
  dir: string;
  hostLocal: boolean;
  /** absent: no wrapper there. */
  wrapper?: { mode: number; sha256: string } | { error: string };
}

export interface PodIpView {
  /** The CNI configuration folder is there (false: nothing to judge). */
  confDir: boolean;
  /** Why the folder could not be listed. */
  confDirError?: string;
  confs: CniConfView[];
  bins: CniBinView[];
  /** The node's conversion journal: absent never converted (or reverted); its phase, or why it could not be read. */
  conversion?: { phase: string } | { error: string };
}

export const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
/** What this yurtctl installs (node convert writes podIpIpamScript() as it is). */
export const WRAPPER_SHA256 = sha256(podIpIpamScript());
const short = (hash: string) => hash.slice(0, 12);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The plugins of a `.conf` (one) or a `.conflist` (its `plugins`), read as node convert reads them (cniConfiguration). */
export function cniPlugins(text: string): { plugins: CniPlugin[] } | { error: string } {
  const read = cniConfiguration(text);
  if ('error' in read) return read;
  return {
    plugins: read.plugins.map((p) => ({
      type: typeof p.type === 'string' && p.type ? p.type : '(no type)',
      ...(isObject(p.ipam) && typeof p.ipam.type === 'string' ? { ipam: p.ipam.type } : {}),
    })),
  };
}

const describeConf = (c: CniConfView) => `${c.path}: ${(c.plugins ?? []).map((p) => (p.ipam ? `${p.type} with IPAM ${p.ipam}` : p.type)).join(', ') || 'no plugins'}`;
const uses = (c: CniConfView, ipam: string) => (c.plugins ?? []).some((p) => p.ipam === ipam);

interface Problem {
  status: Exclude<Status, 'ok'>;
  evidence: string;
  fix: string;
}

/** The node's CNI as it keeps (or does not keep) pod IPs across a reboot. */
export function podIpFromNode(node: string, v: PodIpView): Finding {
  if (!v.confDir) return ok(POD_IP_CHECK, node, `no ${CNI_CONF_DIR} (where node convert looks): pod IPs after a reboot are the CNI's business`);
  if (v.confDirError) return warn(POD_IP_CHECK, node, `cannot list ${CNI_CONF_DIR}: ${v.confDirError}`, `run yurtctl node doctor as root on ${node} (it reads ${CNI_CONF_DIR})`);

  const problems: Problem[] = [];
  const notes: string[] = [];
  for (const c of v.confs.filter((x) => x.error)) {
    const denied = /EACCES|EPERM/.test(c.error!);
    problems.push({
      status: 'warn',
      evidence: `${c.path}: ${c.error}: whether its pods keep their IPs cannot be told (node convert leaves it as it is)`,
      fix: denied ? `run yurtctl node doctor as root on ${node} (it reads ${c.path})` : `on ${node}: correct or remove ${c.path}   # the runtime cannot load it either`,
    });
  }
  const readable = v.confs.filter((c) => c.plugins);
  const wrapped = readable.filter((c) => uses(c, POD_IP_IPAM));
  const plain = readable.filter((c) => uses(c, HOST_LOCAL));
  const others = readable.filter((c) => !wrapped.includes(c) && !plain.includes(c));
  const hostLocalDirs = v.bins.filter((b) => b.hostLocal).map((b) => b.dir);
  const searched = CNI_BIN_DIRS.join(', ');

  const phase = v.conversion && 'phase' in v.conversion ? v.conversion.phase : undefined;
  const converted = phase === 'converted' || phase === 'updating';
  if (v.conversion && 'error' in v.conversion) notes.push(`the conversion journal is unreadable (${v.conversion.error})`);

  if (plain.length) {
    const seen = plain.map(describeConf).join('; ');
    if (!hostLocalDirs.length) {
      // Where convert cannot put the wrapper: the CNI's plugins live elsewhere (k3s's own folder, say).
      notes.push(`${seen}, but no ${HOST_LOCAL} in ${searched}: node convert installs ${POD_IP_IPAM} only next to it there, so pod IPs after a reboot are the CNI's business (${DOCS})`);
    } else if (converted) {
      problems.push({
        status: 'warn',
        evidence: `converted (phase ${phase}), but ${seen} still uses plain ${HOST_LOCAL} (a conversion by an earlier yurtctl, or a configuration written since): after an offline reboot its pods get the next free address while the EndpointSlices the node reads from the hub's cache name the old one until the cloud is back (${DOCS})`,
        fix: `${fixes.reconvert(node)}   # a hub update does not add ${POD_IP_IPAM}; convert does`,
      });
    } else if (phase) {
      problems.push({
        status: 'warn',
        evidence: `a conversion stopped at phase ${phase}; ${seen} still uses plain ${HOST_LOCAL}`,
        fix: `on ${node}: yurtctl node convert --root=/ --node-name=${node} <the same flags>   # resumes it, ${POD_IP_IPAM} included; or from the cloud: yurtctl convert <the same flags>`,
      });
    } else {
      notes.push(`not converted: ${seen} (node convert names ${POD_IP_IPAM} there)`);
    }
  }

  if (wrapped.length) {
    const names = wrapped.map((c) => c.path).join(', ');
    const broken = `${names} name${wrapped.length > 1 ? '' : 's'} ${POD_IP_IPAM}`;
    const wrappers = v.bins.filter((b) => b.wrapper);
    const missingIn = hostLocalDirs.filter((d) => !v.bins.find((b) => b.dir === d)?.wrapper);
    if (!hostLocalDirs.length) {
      problems.push({ status: 'fail', evidence: `${broken}, but there is no ${HOST_LOCAL} in ${searched}: it has nothing to delegate to, so new pods get no address`, fix: `on ${node}: put the CNI plugins' ${HOST_LOCAL} back in ${wrappers[0]?.dir ?? CNI_BIN_DIRS[0]} (from the package or tarball the CNI came from)` });
    } else if (!wrappers.length) {
      problems.push({ status: 'fail', evidence: `${broken}, but no ${searched} holds it: the runtime cannot find the IPAM plugin, so new pods get no address`, fix: fixes.reconvert(node) });
    } else if (missingIn.length) {
      problems.push({ status: 'warn', evidence: `${broken}; ${missingIn.map((d) => `${d}/${POD_IP_IPAM}`).join(', ')} missing beside ${HOST_LOCAL}: if the runtime's CNI bin dir is ${missingIn.length > 1 ? 'one of these' : 'that one'}, new pods get no address`, fix: fixes.reconvert(node) });
    }
    for (const b of wrappers) {
      const path = `${b.dir}/${POD_IP_IPAM}`;
      const w = b.wrapper!;
      if ('error' in w) {
        problems.push({ status: 'warn', evidence: `${path}: unreadable (${w.error})`, fix: `run yurtctl node doctor as root on ${node} (it reads ${path})` });
        continue;
      }
      if (!(w.mode & 0o111)) problems.push({ status: 'fail', evidence: `${path} is not executable (mode ${w.mode.toString(8)}): the runtime cannot run it, so new pods get no address`, fix: `on ${node}: chmod 755 ${path}` });
      if (w.sha256 !== WRAPPER_SHA256) {
        problems.push({ status: 'warn', evidence: `${path} is not the wrapper this yurtctl installs (sha256 ${short(w.sha256)}…, this yurtctl's ${short(WRAPPER_SHA256)}…): written by another yurtctl, or changed by hand`, fix: `${fixes.reconvert(node)}   # writes this yurtctl's ${POD_IP_IPAM}` });
      }
      if (!b.hostLocal && hostLocalDirs.length) problems.push({ status: 'warn', evidence: `${path} has no ${HOST_LOCAL} beside it: it finds one only through the runtime's CNI_PATH`, fix: `on ${node}: put the CNI plugins' ${HOST_LOCAL} back in ${b.dir}` });
    }
  }

  if (!wrapped.length && !plain.length && !problems.length) {
    const seen = others.length ? others.map(describeConf).join('; ') : `no CNI configuration in ${CNI_CONF_DIR} yet (a CNI DaemonSet writes its own at start)`;
    return ok(POD_IP_CHECK, node, `${seen}: no ${HOST_LOCAL} IPAM, so pod IPs after a reboot are the CNI plugin's business (${DOCS})`);
  }
  const worst = problems.find((p) => p.status === 'fail') ?? problems[0];
  if (worst) {
    const rest = problems.filter((p) => p !== worst).map((p) => p.evidence);
    const evidence = [worst.evidence, ...rest, ...notes].join('; ');
    return worst.status === 'fail' ? fail(POD_IP_CHECK, node, evidence, worst.fix) : warn(POD_IP_CHECK, node, evidence, worst.fix);
  }
  const installed = v.bins.filter((b) => b.wrapper).map((b) => `${b.dir}/${POD_IP_IPAM}`);
  const good = wrapped.length ? [`${wrapped.map(describeConf).join('; ')}; ${installed.join(', ')} this yurtctl's (sha256 ${short(WRAPPER_SHA256)}…), beside ${HOST_LOCAL}`] : [];
  return ok(POD_IP_CHECK, node, [...good, ...notes].join('; '));
}
