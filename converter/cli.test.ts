import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isYurtError } from '../lib/errors.js';
import { checkNodesReady, checkServerVersion } from './cluster/preflight.js';
import yaml from 'js-yaml';
import { buildStatus, formatStatus, renderStatus } from './cluster/status.js';
import { chartObjects, resourceOf } from './cluster/helm.js';
import { loadKubeConfig, resolveValues } from './config.js';
import { ConverterErrors, exitCodeFor } from './errors.js';
import { kubeletRequestCount } from './node/api.js';
import { parseCommand, type ConvertOptions, type NodeOptions } from './options.js';
import { planConvert } from './plan/plan.js';
import { run, type Io } from './start.js';
import { FIXTURES, loadFixture, request } from './testing/fixtures.js';
import { interactive, Progress } from './ui/progress.js';

const tmp = mkdtempSync(join(tmpdir(), 'yurtctl-cli-'));
const REPO = fileURLToPath(new URL('..', import.meta.url));

/** yurtctl from the sources in a child process, with exactly this environment. */
function yurtctlProcess(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'converter/main.ts'), ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function fails(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (isYurtError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('did not throw');
}

const convert = (argv: string[]) => {
  const c = parseCommand(['convert', ...argv]);
  if (c.cmd !== 'convert') throw new Error(c.cmd);
  return c.options as ConvertOptions;
};

describe('yurtctl convert flags', () => {
  it('reads the selection, values, output and durations into frozen options', () => {
    const o = convert(['--edge-nodes', 'edge-2,edge-1,edge-1', '-f', 'a.yaml', '--values', 'b.yaml', '--set', 'x=1', '--set', 'y=2', '-o', 'json', '--node-timeout', '0', '--lock-timeout', '1m30s', '--autonomy']);
    expect(o.selection).toEqual({ by: 'edge-nodes', nodes: ['edge-1', 'edge-2'] });
    expect(o.valuesFiles).toEqual(['a.yaml', 'b.yaml']);
    expect(o.set).toEqual(['x=1', 'y=2']);
    expect(o.output).toBe('json');
    expect(o.nodeTimeoutMs).toBe(0);
    expect(o.lockTimeoutMs).toBe(90_000);
    expect(o.autonomy).toBe(true);
    expect(o.namespace).toBe('kube-system');
    expect(Object.isFrozen(o)).toBe(true);
    expect(convert(['--edge-selector', 'site in (b,a)']).selection).toEqual({ by: 'edge-selector', selector: 'site in (a,b)' });
  });

  it('names the flag and the rule when something is wrong', () => {
    expect(fails(() => convert([])).message).toBe('--cloud-nodes: give exactly one of --cloud-nodes, --edge-nodes, --edge-selector');
    expect(fails(() => convert(['--cloud-nodes', 'a', '--edge-selector', 'x=y'])).message).toMatch(/^--edge-selector: give exactly one/);
    expect(fails(() => convert(['--cloud-nodes', 'Bad_Name'])).message).toBe('--cloud-nodes: "Bad_Name" is not a valid node name');
    expect(fails(() => convert(['--cloud-nodes', 'a', '--node-timeout', 'soon'])).message).toMatch(/^--node-timeout: must be a duration/);
    expect(fails(() => convert(['--cloud-nodes', 'a', '-o', 'yaml'])).message).toBe('--output: must be json (or left out for text), got "yaml"');
    expect(fails(() => convert(['--cloud-nodes', 'a', '--frobnicate'])).message).toBe('--frobnicate: unknown flag (see --help)');
    expect(fails(() => convert(['--cloud-nodes', 'a', '--image-repository', 'repo:1.0@sha256:x'])).code).toBe('CNV_ERR_USAGE');
    expect(fails(() => parseCommand(['frob'])).message).toBe('unknown command "frob" (yurtctl --help lists them)');
  });

  it('has --help for every command', () => {
    for (const argv of [['--help'], ['convert', '--help'], ['revert', '-h'], ['status', '--help'], ['node', '--help'], ['node', 'convert', '--help']]) {
      const c = parseCommand(argv);
      expect(c.cmd, argv.join(' ')).toBe('help');
    }
    const text = (parseCommand(['convert', '--help']) as { text: string }).text;
    expect(text).toContain('-f, --values');
    expect(text).toContain('--dry-run');
    expect(text).toContain('--allow-image-override');
    expect(convert(['--cloud-nodes', 'a']).allowImageOverride).toBe(false);
    expect(convert(['--cloud-nodes', 'a', '--allow-image-override']).allowImageOverride).toBe(true);
  });
});

describe('canary waves and yurtctl upgrade', () => {
  it('reads --waves and --wave-timeout for convert and upgrade', () => {
    const o = convert(['--cloud-nodes', 'a', '--waves', '1,10%,100%', '--wave-timeout', '90s']);
    expect(o.waves).toEqual({ by: 'sizes', steps: [{ count: 1 }, { percent: 10 }, { percent: 100 }] });
    expect(o.waveTimeoutMs).toBe(90_000);
    expect(convert(['--cloud-nodes', 'a']).waves).toBeUndefined();
    const u = parseCommand(['upgrade', '--image', 'registry.example/yurt:0.2.0', '--waves', 'pools']);
    expect(u.cmd).toBe('upgrade');
    expect(u.cmd === 'upgrade' && [u.options.imageRepository, u.options.imageTag, u.options.waves]).toEqual(['registry.example/yurt', '0.2.0', { by: 'pools' }]);
    const t = parseCommand(['upgrade', '--image', '0.2.0']);
    expect(t.cmd === 'upgrade' && [t.options.imageRepository, t.options.imageTag, t.options.waves]).toEqual([undefined, '0.2.0', undefined]);
  });

  it('names the flag and the rule', () => {
    expect(fails(() => convert(['--cloud-nodes', 'a', '--waves', '1,10%'])).message).toBe('--waves: the last wave must reach every edge node: end with 100%');
    expect(fails(() => parseCommand(['upgrade'])).message).toBe('--image: is required: the tag (or repository:tag) to upgrade to');
    expect(fails(() => parseCommand(['upgrade', '--image', 'repo@sha256:abc'])).message).toBe('--image: "repo@sha256:abc" is not TAG or REPOSITORY:TAG (no digest)');
    expect(fails(() => parseCommand(['upgrade', '--image', '1', '--wave-timeout', '10ms'])).code).toBe('CNV_ERR_USAGE');
    expect(parseCommand(['upgrade', '--help']).cmd).toBe('help');
  });
});

describe('--replace-foreign', () => {
  const revert = (argv: string[]) => {
    const c = parseCommand(['revert', ...argv]);
    if (c.cmd !== 'revert') throw new Error(c.cmd);
    return c.options;
  };

  it('names objects of yurtctl\'s names one by one, as Kind/name (kinds in any case), for convert and revert', () => {
    expect(convert(['--cloud-nodes', 'a']).replaceForeign).toEqual([]);
    expect(convert(['--cloud-nodes', 'a', '--replace-foreign', 'job/yurtctl-convert-edge-1, Lease/yurtctl-lock']).replaceForeign).toEqual(['Job/yurtctl-convert-edge-1', 'Lease/yurtctl-lock']);
    expect(revert(['--replace-foreign', 'Job/yurtctl-revert-edge-1']).replaceForeign).toEqual(['Job/yurtctl-revert-edge-1']);
    expect(convert(['--cloud-nodes', 'a', '--replace-foreign', 'ConfigMap/yurt-edge-conversion,Secret/bootstrap-token-abc123']).replaceForeign).toEqual(['ConfigMap/yurt-edge-conversion', 'Secret/bootstrap-token-abc123']);
    expect(convert(['--cloud-nodes', 'a', '--replace-foreign', 'DaemonSet/yurt-edge-coredns']).replaceForeign).toEqual(['DaemonSet/yurt-edge-coredns']);
    expect((parseCommand(['convert', '--help']) as { text: string }).text).toContain('--replace-foreign');
  });

  it('cannot name anything yurtctl does not write: it is no way to delete other objects', () => {
    const names = 'Job/yurtctl-convert-<node>, Job/yurtctl-revert-<node>, ConfigMap/yurt-edge-conversion, Secret/bootstrap-token-<id>, Lease/yurtctl-lock, DaemonSet/yurt-edge-coredns, NodePool/<a --pool name>';
    expect(fails(() => convert(['--cloud-nodes', 'a', '--replace-foreign', 'Deployment/coredns'])).message).toBe(`--replace-foreign: "Deployment/coredns" is not Kind/name of an object yurtctl writes (${names})`);
    expect(fails(() => convert(['--cloud-nodes', 'a', '--replace-foreign', 'yurtctl-convert-edge-1'])).message).toMatch(/^--replace-foreign: "yurtctl-convert-edge-1" is not Kind\/name/);
    expect(fails(() => convert(['--cloud-nodes', 'a', '--replace-foreign', 'ConfigMap/kube-proxy'])).message).toBe(`--replace-foreign: "ConfigMap/kube-proxy": yurtctl writes no ConfigMap of that name (${names})`);
    expect(fails(() => revert(['--replace-foreign', 'Job/backup-nightly'])).code).toBe('CNV_ERR_USAGE');
    expect(fails(() => parseCommand(['status', '--replace-foreign', 'Lease/yurtctl-lock'])).message).toBe('--replace-foreign: unknown flag (see --help)');
  });
});

describe('yurtctl node flags', () => {
  const node = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const c = parseCommand(['node', ...argv], env);
    if (c.cmd !== 'node') throw new Error(c.cmd);
    return c.options as NodeOptions;
  };

  it('takes the token from the environment and checks its form', () => {
    expect(node(['convert', '--node-name', 'edge-1'], { YURTCTL_BOOTSTRAP_TOKEN: 'abcdef.0123456789abcdef' }).bootstrapToken).toBe('abcdef.0123456789abcdef');
    expect(fails(() => node(['convert', '--bootstrap-token', 'nope'])).message).toBe('--bootstrap-token: must have the form [a-z0-9]{6}.[a-z0-9]{16}');
  });

  it('needs host paths and --kubelet-kubeconfig for the custom layout', () => {
    expect(fails(() => node(['convert', '--layout', 'custom'])).message).toBe('--kubelet-kubeconfig: --layout=custom needs it');
    expect(fails(() => node(['convert', '--kubelet-kubeconfig', 'relative.conf'])).message).toMatch(/must be an absolute host path/);
    expect(fails(() => node(['upgrade'])).message).toBe('yurtctl node takes convert, revert or doctor, got "upgrade"');
    expect(node(['revert', '--root', '/host', '--node-name', 'Edge-1', '--hub-port', '10271']).nodeName).toBe('edge-1');
  });
});

describe('yurtctl doctor flags', () => {
  it('takes node names, -o json|yaml, --fix and the manager\'s Lease', () => {
    const c = parseCommand(['doctor', 'edge-2', 'edge-1', 'edge-2', '-o', 'yaml', '--fix']);
    expect(c).toMatchObject({ cmd: 'doctor', options: { nodes: ['edge-1', 'edge-2'], output: 'yaml', fix: true, managerLease: { namespace: 'kube-system', name: 'yurt-manager' } } });
    expect(parseCommand(['doctor'])).toMatchObject({ options: { nodes: [], output: 'text', fix: false } });
    expect(fails(() => parseCommand(['doctor', 'Edge_1'])).message).toBe('doctor: "Edge_1" is not a valid node name');
    expect(fails(() => parseCommand(['doctor', '-o', 'wide'])).message).toBe('--output: must be json, yaml (or left out for text), got "wide"');
    expect(fails(() => parseCommand(['doctor', '--manager-lease', 'x'])).message).toBe('--manager-lease: must be namespace/name');
  });
  it('node doctor takes the host root, the layout, the hub port and the agent\'s address', () => {
    const c = parseCommand(['node', 'doctor', '--root', '/host', '--node-name', 'Edge-1', '--hub-port', '10300', '-o', 'json']);
    expect(c).toMatchObject({ cmd: 'node-doctor', options: { root: '/host', nodeName: 'edge-1', layout: 'auto', hubPort: 10300, agentAddress: '127.0.0.1:10266', output: 'json' } });
    expect(fails(() => parseCommand(['node', 'doctor', '--agent-address', 'nowhere'])).code).toBe('CNV_ERR_USAGE');
    expect(fails(() => parseCommand(['node', 'doctor', '--fix'])).code).toBe('CNV_ERR_USAGE'); // read-only on the node
    expect(parseCommand(['node', 'doctor', '--help'])).toMatchObject({ cmd: 'help', text: expect.stringContaining('Usage: yurtctl node doctor [flags]') });
  });
});

describe('exit codes', () => {
  it('map each status to its documented exit code', () => {
    expect([400, 503, 403, 404, 409, 412, 504, 500].map(exitCodeFor)).toEqual([2, 3, 4, 5, 6, 7, 8, 1]);
    expect(exitCodeFor(ConverterErrors.CNV_ERR_FOREIGN_OBJECT('x').statusCode)).toBe(6);
  });

  it('run() prints one line and returns the exit code', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = {
      stdout: { write: (s: string) => out.push(s) > 0 },
      stderr: { write: (s: string) => err.push(s) > 0 },
      stdin: Object.assign(process.stdin, {}),
      env: { CI: 'true' },
    };
    expect(await run(['convert', '--cloud-nodes', 'a'], io)).toBe(2);
    expect(err).toEqual(['yurtctl convert: refusing to change the cluster without confirmation: there is no terminal to ask on (or CI=true); review the plan with --dry-run, then run again with --yes (CNV_ERR_CONFIRMATION_REQUIRED)\n']);
    expect(await run(['version'], io)).toBe(0);
    expect(out.at(-1)).toMatch(/^yurtctl \d+\.\d+\.\d+/);
  });
});

describe('configuration', () => {
  it('reads -f files in order, then --set', async () => {
    const second = join(tmp, 'second.yaml');
    writeFileSync(second, 'yurthub:\n  logLevel: debug\n');
    expect(await resolveValues({ valuesFiles: [join(FIXTURES, 'values-override.yaml'), second], set: ['yurthub.port=10281', 'yurt-tunnel-agent.enabled=false'] })).toEqual({
      yurthub: { port: 10281, logLevel: 'debug' },
      'yurt-tunnel-server': { replicas: 2 },
      'yurt-tunnel-agent': { enabled: false },
    });
    const list = join(tmp, 'list.yaml');
    writeFileSync(list, '- a\n- b\n');
    await expect(resolveValues({ valuesFiles: [list], set: [] })).rejects.toThrow(`--values ${list}: must be a YAML mapping`);
    await expect(resolveValues({ valuesFiles: [join(tmp, 'missing.yaml')], set: [] })).rejects.toThrow('no such file');
  });

  it('refuses garbage kubeconfigs and unknown contexts with one line', () => {
    const garbage = join(tmp, 'garbage');
    writeFileSync(garbage, 'clusters: [ {name: x, cluster: {server: \n');
    expect(fails(() => loadKubeConfig(garbage, '')).message).toMatch(new RegExp(`^--kubeconfig: ${garbage} is not a usable kubeconfig: `));
    expect(fails(() => loadKubeConfig(join(tmp, 'nothing'), '')).message).toBe(`--kubeconfig: ${join(tmp, 'nothing')} is not a usable kubeconfig: no such file`);
    const ok = join(tmp, 'ok');
    writeFileSync(ok, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }));
    expect(loadKubeConfig(ok, '').getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
    expect(fails(() => loadKubeConfig(ok, 'other')).code).toBe('CNV_ERR_KUBECONFIG');
  });

  // client-node's last resort, without any kubeconfig, is http://localhost:8080 (and in a pod, its service account)
  it.skipIf(existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token'))('without any kubeconfig says so in one line and exits 2, instead of trying localhost:8080', async () => {
    const home = join(tmp, 'empty-home');
    mkdirSync(home, { recursive: true });
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, CI: 'true' };
    for (const args of [['status'], ['convert', '--cloud-nodes', 'cloud-1', '--dry-run']]) {
      const run = await yurtctlProcess(args, env);
      expect(run.stderr, args.join(' ')).toBe(`yurtctl ${args[0]}: no kubeconfig: give --kubeconfig or set KUBECONFIG (there is no ~/.kube/config) (CNV_ERR_KUBECONFIG)\n`);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stdout).toBe('');
    }
    // an empty $KUBECONFIG is no kubeconfig either; a ~/.kube/config is used as kubectl would
    expect((await yurtctlProcess(['status'], { ...env, KUBECONFIG: '' })).stderr).toMatch(/no kubeconfig: give --kubeconfig or set KUBECONFIG/);
    mkdirSync(join(home, '.kube'));
    writeFileSync(join(home, '.kube/config'), 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n');
    expect((await yurtctlProcess(['status'], env)).stderr).toMatch(/^yurtctl status: --kubeconfig: ~\/\.kube\/config has no current context with a cluster .*\(CNV_ERR_KUBECONFIG\)\n$/);
  }, 60_000);
});

describe('preflight (pure parts)', () => {
  it('refuses servers older than supported and warns about newer ones', () => {
    expect(fails(() => checkServerVersion({ major: 1, minor: 26, gitVersion: 'v1.26.3' })).code).toBe('CNV_ERR_PREFLIGHT');
    expect(checkServerVersion({ major: 1, minor: 37, gitVersion: 'v1.37.2' })).toBeUndefined();
    expect(checkServerVersion({ major: 1, minor: 40, gitVersion: 'v1.40.0' })).toMatch(/^warning: /);
  });

  it('names every node whose node side cannot run because it is not Ready', () => {
    const state = loadFixture('not-ready.yaml');
    const plan = planConvert(state, request());
    expect(fails(() => checkNodesReady(plan, state)).message).toBe('not Ready, so their node side cannot run: edge-2 (NodeStatusUnknown: Kubelet stopped posting node status.)');
  });

  it('keeps the rules of chart roles and what chart bindings bind', () => {
    const objects = chartObjects([
      'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\nrules: [{apiGroups: [""], resources: [nodes], verbs: [get]}]',
      'apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r2}\nsubjects: []',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {rules: x}',
    ].join('\n---\n'), 'kube-system');
    expect(objects).toEqual([
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'r', namespace: '', group: 'rbac.authorization.k8s.io', resource: 'clusterroles', rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }] },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', name: 'b', namespace: 'kube-system', group: 'rbac.authorization.k8s.io', resource: 'rolebindings', roleRef: { kind: 'Role', name: 'r2' } },
      { apiVersion: 'v1', kind: 'ConfigMap', name: 'c', namespace: 'kube-system', group: '', resource: 'configmaps' },
    ]);
  });

  it('maps chart kinds to their resources', () => {
    expect(['DaemonSet', 'ClusterRoleBinding', 'PodDisruptionBudget', 'NetworkPolicy', 'Ingress', 'Endpoints'].map(resourceOf)).toEqual(['daemonsets', 'clusterrolebindings', 'poddisruptionbudgets', 'networkpolicies', 'ingresses', 'endpoints']);
  });
});

describe('status', () => {
  it('shows role, state, hub, agent and autonomy per node', () => {
    const nodes = [
      { kind: 'Node', metadata: { name: 'edge-1', labels: { 'openyurt.io/is-edge-worker': 'true' }, annotations: { 'yurt-edge.io/conversion-state': 'converted', 'node.beta.openyurt.io/autonomy': 'true' } }, status: { conditions: [{ type: 'Ready', status: 'True' }] } },
      { kind: 'Node', metadata: { name: 'cloud-1', labels: { 'openyurt.io/is-edge-worker': 'false' } }, status: { conditions: [{ type: 'Ready', status: 'True' }] } },
    ];
    const ready = { conditions: [{ type: 'Ready', status: 'True' }] };
    const pods = [
      { metadata: { labels: { 'app.kubernetes.io/name': 'yurthub' } }, spec: { nodeName: 'edge-1' }, status: ready },
      { metadata: { labels: { 'app.kubernetes.io/name': 'yurt-tunnel-agent' } }, spec: { nodeName: 'edge-1' }, status: { conditions: [{ type: 'Ready', status: 'False' }] } },
    ];
    const s = buildStatus(nodes, pods, { name: 'yurt-edge', namespace: 'kube-system', status: 'deployed', revision: 2, chart: 'yurt-edge-0.1.0', values: {} }, undefined);
    expect(s.nodes.map((n) => [n.name, n.role, n.state, n.hub, n.agent, n.autonomy])).toEqual([
      ['cloud-1', 'cloud', '', '', '', false],
      ['edge-1', 'edge', 'converted', 'ready', 'not connected', true],
    ]);
    expect(renderStatus(s)).toMatch(/^edge-1 +edge +converted +True +ready +not connected +true$/m);
    expect(renderStatus({ ...s, release: null, releaseUnknown: 'helm not found: give --helm or put helm on PATH' })).toMatch(/^release: unknown \(helm not found: give --helm or put helm on PATH\)$/m);
    expect(renderStatus({ ...s, release: null })).toMatch(/^release: not installed$/m);
  });

  it('prints status as a table, a wide table, JSON or YAML (-o wide|json|yaml)', () => {
    const nodes = [
      {
        kind: 'Node',
        metadata: { name: 'edge-1', labels: { 'openyurt.io/is-edge-worker': 'true' } },
        status: { conditions: [{ type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: 'PLEG' }], addresses: [{ type: 'InternalIP', address: '10.0.0.7' }], nodeInfo: { kubeletVersion: 'v1.37.2' } },
      },
    ];
    const pods = [{ metadata: { name: 'yurthub-edge-1', labels: { 'app.kubernetes.io/name': 'yurthub' } }, spec: { nodeName: 'edge-1' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }];
    const s = buildStatus(nodes, pods, undefined, undefined);
    expect(formatStatus(s, 'text')).toMatch(/^NODE +ROLE +STATE +READY +HUB +AGENT +AUTONOMY$/m);
    expect(formatStatus(s, 'wide')).toMatch(/^NODE +ROLE +STATE +READY +HUB +AGENT +AUTONOMY +INTERNAL-IP +KUBELET +HUB-POD +AGENT-POD +REASON$/m);
    expect(formatStatus(s, 'wide')).toMatch(/^edge-1 +edge +- +False +ready +- +- +10\.0\.0\.7 +v1\.37\.2 +yurthub-edge-1 +- +KubeletNotReady: PLEG$/m);
    expect(yaml.load(formatStatus(s, 'yaml'))).toEqual(JSON.parse(formatStatus(s, 'json')));
    expect((yaml.load(formatStatus(s, 'yaml')) as { nodes: Array<{ internalIP: string }> }).nodes[0]!.internalIP).toBe('10.0.0.7');
    expect(fails(() => parseCommand(['status', '-o', 'xml'])).message).toBe('--output: must be json, yaml, wide (or left out for text), got "xml"');
    expect(parseCommand(['status', '-o', 'wide'])).toMatchObject({ cmd: 'status', options: { output: 'wide' } });
  });

  it('counts kubelet\'s requests in yurthub\'s metrics', () => {
    const metrics = [
      '# TYPE yurthub_proxy_requests_total counter',
      'yurthub_proxy_requests_total{component="kubelet",verb="get",resource="nodes",code="200",served_from="remote"} 7',
      'yurthub_proxy_requests_total{component="kube-proxy",verb="list",resource="services",code="200",served_from="remote"} 3',
      'yurthub_proxy_requests_total{component="kubelet",verb="update",resource="leases",code="200",served_from="remote"} 4',
    ].join('\n');
    expect(kubeletRequestCount(metrics)).toBe(11);
  });
});

describe('progress', () => {
  it('is interactive only on a terminal, and never under CI=true or TERM=dumb', () => {
    const tty = { write: () => true, isTTY: true };
    expect(interactive(tty, {})).toBe(true);
    expect(interactive(tty, { CI: 'true' })).toBe(false);
    expect(interactive(tty, { TERM: 'dumb' })).toBe(false);
    expect(interactive({ write: () => true }, {})).toBe(false);
    expect(interactive({ write: () => true, isTTY: false }, {})).toBe(false);
  });

  it('prints plain lines without a terminal', () => {
    const out: string[] = [];
    const p = new Progress({ write: (s) => out.push(s) > 0 }, false, 2);
    p.step('nodes');
    p.node('edge-1', 'labelled');
    p.node('edge-1', 'labelled');
    p.node('edge-2', 'labelled');
    expect(out.join('')).toBe('[1/2] nodes\n  edge-1: labelled\n  edge-2: labelled\n');
  });

  it('redraws one line per node in place on a terminal', () => {
    const out: string[] = [];
    const p = new Progress({ write: (s) => out.push(s) > 0, isTTY: true }, true, 2);
    p.node('edge-1', 'pending');
    p.node('edge-10', 'pending');
    p.node('edge-1', 'converted');
    const text = out.join('');
    expect(text).toContain('\x1b[2A'); // moved back up over the two node lines
    expect(text.endsWith('\x1b[2K  edge-1   converted\n\x1b[2K  edge-10  pending\n')).toBe(true);
  });
});
