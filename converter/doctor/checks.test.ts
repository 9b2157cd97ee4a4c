import { describe, expect, it } from 'vitest';
import {
  agentFromCloud, agentFromNode, autonomy, certificate, conversion, clockSkewFromLease, clockSkewFromNode, hubCache, hubFromCloud, hubReady, hubServing,
  kubeletWired, managerLeader, noTunnelServer, nodeReady, tunnelReplica, tunnelRoute,
} from './checks.js';
import { renderReport, report, STATUS_EXIT, worst, type Finding } from './finding.js';
import { parseMetrics, total } from '../../lib/metrics/exposition.js';
import { hubFromManifest, notAfterOf } from './node-doctor.js';
import { rerunnable } from './cloud-doctor.js';

const HUB = 'http://127.0.0.1:10261';
const NOW = Date.parse('2026-12-06T09:00:00Z');

describe('hub from the node', () => {
  it('is ok when /v1/healthz answers 200', () => {
    expect(hubServing('e1', HUB, { status: 200, body: 'OK' }, '/etc/kubernetes/manifests/yurt-hub.yaml')).toMatchObject({ status: 'ok', evidence: `${HUB}/v1/healthz: 200 OK` });
  });
  it('a stopped hub whose manifest is there: kubelet should run it, so remove its container', () => {
    const f = hubServing('e1', HUB, { body: '', error: 'connect ECONNREFUSED 127.0.0.1:10261' }, '/etc/kubernetes/manifests/yurt-hub.yaml');
    expect(f.status).toBe('fail');
    expect(f.evidence).toContain('ECONNREFUSED');
    expect(f.fix).toBe('on e1: crictl rm -f $(crictl ps -aq --name yurthub)   # kubelet starts the static pod again');
  });
  it('no manifest: the node must be converted again', () => {
    expect(hubServing('e1', HUB, { body: '', error: 'ECONNREFUSED' }, undefined).fix).toMatch(/^on e1: yurtctl node revert --root=\/ --node-name=e1; then from the cloud: yurtctl convert/);
  });
  it('/readyz: online ok, offline a warning, 503 a failure, no answer left to hubServing', () => {
    expect(hubReady('e1', HUB, { status: 200, body: 'ok: online through https://10.0.0.1:6443' })?.status).toBe('ok');
    expect(hubReady('e1', HUB, { status: 200, body: 'ok: offline, answering from the cache' })?.status).toBe('warn');
    expect(hubReady('e1', HUB, { status: 503, body: 'not ready: cache closed' })).toMatchObject({ status: 'fail', evidence: `${HUB}/readyz: 503 not ready: cache closed` });
    expect(hubReady('e1', HUB, { body: '', error: 'ECONNREFUSED' })).toBeUndefined();
  });
});

describe('hub cache', () => {
  const up = [{ server: 'https://10.0.0.1:6443', healthy: true, failures: 0 }];
  it('lists what kubelet has cached per resource', () => {
    const f = hubCache('e1', HUB, { upstreams: up, resources: [{ component: 'kubelet', resource: 'pods', objects: 3, bytes: 10 }, { component: 'kubelet', resource: 'nodes', objects: 1, bytes: 5 }, { component: 'coredns', resource: 'services', objects: 9, bytes: 1 }] });
    expect(f).toMatchObject({ status: 'ok', evidence: 'kubelet cached: nodes=1 pods=3; upstreams: https://10.0.0.1:6443 healthy' });
  });
  it('an empty list counts: a node without pods has them all cached', () => {
    expect(hubCache('e1', HUB, { upstreams: up, resources: [{ component: 'kubelet', resource: 'pods', objects: 0, bytes: 0 }, { component: 'kubelet', resource: 'nodes', objects: 1, bytes: 5 }] }).status).toBe('ok');
  });
  it('warns when kubelet could not restart its pods offline', () => {
    const f = hubCache('e1', HUB, { upstreams: up, resources: [{ component: 'kubelet', resource: 'nodes', objects: 1, bytes: 5 }] });
    expect(f.status).toBe('warn');
    expect(f.evidence).toContain('(no pods: e1 would not restart its pods offline)');
    expect(f.fix).toContain('--cache-agents');
  });
  it('warns when every upstream is down: the cache is as old as the outage', () => {
    const f = hubCache('e1', HUB, { upstreams: [{ server: 'https://a', healthy: false, failures: 4 }], resources: [{ component: 'kubelet', resource: 'nodes', objects: 1, bytes: 1 }, { component: 'kubelet', resource: 'pods', objects: 1, bytes: 1 }] });
    expect(f.status).toBe('warn');
    expect(f.evidence).toContain('https://a unhealthy (4 failures)');
  });
  it('says how old the cache is: as of the last healthy moment, or older than the hub if it never reached an apiserver', () => {
    const resources = [{ component: 'kubelet', resource: 'nodes', objects: 1, bytes: 1 }, { component: 'kubelet', resource: 'pods', objects: 1, bytes: 1 }];
    const seen = hubCache('e1', HUB, { upstreams: [{ server: 'https://a', healthy: false, since: '2026-12-06T08:58:00.000Z', lastHealthy: '2026-12-06T08:57:50.000Z' }, { server: 'https://b', healthy: false, lastHealthy: '2026-12-06T08:40:00.000Z' }], resources }, undefined, NOW);
    expect(seen.evidence).toContain('served from the cache, current as of 2026-12-06T08:57:50.000Z (2m ago)');
    const never = hubCache('e1', HUB, { upstreams: [{ server: 'https://a', healthy: false, since: '2026-12-06T06:00:00.000Z' }], resources }, undefined, NOW);
    expect(never.evidence).toContain('older than 2026-12-06T06:00:00.000Z (3h ago): no apiserver was healthy since the hub started');
  });
});

describe('certificates', () => {
  it('expired fails, within a week warns, otherwise ok, unknown warns', () => {
    expect(certificate('e1', 'hub', NOW - 3600_000, NOW, 'FIX', 'metric')).toMatchObject({ check: 'certificate/hub', status: 'fail', evidence: 'hub: expired 2026-12-06T08:00:00.000Z (1 h ago; metric)', fix: 'FIX' });
    expect(certificate('e1', 'hub', NOW + 3 * 86_400_000, NOW, 'FIX', 'metric').status).toBe('warn');
    expect(certificate('e1', 'hub', NOW + 300 * 86_400_000, NOW, 'FIX', 'metric')).toMatchObject({ status: 'ok', evidence: 'hub: valid until 2027-10-02T09:00:00.000Z (300 d left; metric)' });
    expect(certificate('e1', 'hub', undefined, NOW, 'FIX', 'metric').status).toBe('warn');
  });
  it('a PEM without a certificate has no known end', () => {
    expect(notAfterOf('no certificate')).toBeUndefined();
  });
});

describe('kubelet wired to the hub', () => {
  const base = { layout: 'kubeadm', dropIn: { path: '/etc/systemd/system/kubelet.service.d/99-yurt-edge.conf', present: true }, kubeconfig: '/var/lib/yurt-edge/kubelet.conf', server: HUB, kubeletRequests: 42 };
  it('ok when the drop-in is there, the kubeconfig names the hub, and the hub serves kubelet', () => {
    expect(kubeletWired('e1', HUB, base)).toMatchObject({ status: 'ok', evidence: `layout kubeadm; /var/lib/yurt-edge/kubelet.conf: server ${HUB}; the hub proxied 42 kubelet requests` });
  });
  it('fails without the drop-in, and names the re-conversion', () => {
    const f = kubeletWired('e1', HUB, { ...base, dropIn: { ...base.dropIn, present: false }, kubeconfig: '/etc/kubernetes/kubelet.conf', server: 'https://10.0.0.1:6443' });
    expect(f.status).toBe('fail');
    expect(f.evidence).toContain('99-yurt-edge.conf is missing');
    expect(f.fix).toContain('yurtctl node revert --root=/ --node-name=e1');
  });
  it('fails when the kubeconfig names another server; warns when the hub saw no kubelet request', () => {
    expect(kubeletWired('e1', HUB, { ...base, server: 'http://127.0.0.1:9999' }).status).toBe('fail');
    expect(kubeletWired('e1', HUB, { ...base, kubeletRequests: 0 })).toMatchObject({ status: 'warn', fix: 'on e1: systemctl daemon-reload && systemctl restart kubelet' });
  });
});

describe('agent', () => {
  it('from the node: not running fails with the pod deletion, sessions short of the replicas warn', () => {
    expect(agentFromNode('e1', 'http://127.0.0.1:10266', { body: '', error: 'ECONNREFUSED' }, undefined, undefined)).toMatchObject({
      status: 'fail', fix: 'kubectl -n kube-system delete pod -l app.kubernetes.io/name=yurt-tunnel-agent --field-selector spec.nodeName=e1   # the DaemonSet starts it again',
    });
    expect(agentFromNode('e1', 'u', { status: 200, body: 'ok' }, 1, 2).status).toBe('warn');
    expect(agentFromNode('e1', 'u', { status: 200, body: 'ok' }, 2, 2)).toMatchObject({ status: 'ok', evidence: 'u/readyz: 200; 2 session(s) of 2 server replica(s)' });
    expect(agentFromNode('e1', 'u', { status: 503, body: 'no session' }, 0, undefined).status).toBe('fail');
  });
  it('from the cloud: a crash-looping pod is a safe repair, a merely unready one is not', () => {
    const crash = agentFromCloud('e1', { name: 'yurt-tunnel-agent-x', ready: false, phase: 'Running', restarts: 5, waiting: 'CrashLoopBackOff' });
    expect(crash).toMatchObject({ status: 'fail', fix: 'kubectl -n kube-system delete pod yurt-tunnel-agent-x', repair: { kind: 'delete-pod', namespace: 'kube-system', name: 'yurt-tunnel-agent-x' } });
    expect(agentFromCloud('e1', { name: 'a', ready: false, phase: 'Pending', restarts: 0 }).repair).toBeUndefined();
    expect(agentFromCloud('e1', undefined).status).toBe('fail');
    expect(agentFromCloud('e1', { name: 'a', ready: true, phase: 'Running', restarts: 0 }).status).toBe('ok');
  });
  it('tunnel replicas: fewer agents than edge nodes warn', () => {
    expect(tunnelReplica('s-1', 2, 3).status).toBe('warn');
    expect(tunnelReplica('s-1', 3, 3).status).toBe('ok');
    expect(tunnelReplica('s-1', undefined, 3, '503').status).toBe('warn');
  });
});

describe('the apiserver\'s road to kubelet', () => {
  it('ok through the tunnel; a success with no tunnel stream went past it', () => {
    expect(tunnelRoute('e1', { status: 200, body: 'ok' }, 2)).toMatchObject({ status: 'ok', evidence: 'GET /api/v1/nodes/e1/proxy/healthz: 200 through the tunnel (2 stream(s))' });
    expect(tunnelRoute('e1', { status: 200, body: 'ok' }, 0)).toMatchObject({ status: 'warn', fix: expect.stringContaining('--egress-selector-config-file') });
    // kube-apiserver's kept-alive connection through the tunnel: no new stream, but the answer came back from an agent.
    expect(tunnelRoute('e1', { status: 200, body: 'ok' }, 0, undefined, 730)).toMatchObject({ status: 'ok', evidence: 'GET /api/v1/nodes/e1/proxy/healthz: 200 through the tunnel (a kept-alive stream: 730 bytes from the agents)' });
    expect(tunnelRoute('e1', { status: 200, body: 'ok' }, 0, undefined, 0).status).toBe('warn');
    expect(tunnelRoute('e1', { status: 200, body: 'ok' }).status).toBe('ok');
  });
  it('TUN_ERR_NO_AGENT names the agent of the node', () => {
    const f = tunnelRoute('e1', { status: 503, body: '{"message":"error trying to reach service: proxy error from 127.0.0.1:10263 while dialing 10.0.0.5:10250, code 503: 503 Service Unavailable (TUN_ERR_NO_AGENT)"}' });
    expect(f.status).toBe('fail');
    expect(f.evidence).toContain('no agent of e1 is connected');
    expect(f.fix).toContain('delete pod -l app.kubernetes.io/name=yurt-tunnel-agent --field-selector spec.nodeName=e1');
  });
  it('a refused egress is the tunnel server; a timeout with no tunnel code is the missing route', () => {
    expect(tunnelRoute('e1', { status: 503, body: 'error trying to reach service: dial tcp 127.0.0.1:10263: connect: connection refused (egress proxy)' }).fix).toBe('kubectl -n kube-system rollout restart deployment/yurt-tunnel-server');
    expect(tunnelRoute('e1', { status: 503, body: 'error trying to reach service: dial tcp 10.0.0.5:10250: i/o timeout' }).fix).toContain('--egress-selector-config-file');
  });
  it('with no tunnel server running, a failing road is the missing server, whatever the apiserver says: scale it up, not restart it', () => {
    const scale = 'kubectl -n kube-system scale deployment/yurt-tunnel-server --replicas=2   # the chart\'s replicaCount; if it was not 0, why its pods do not run: kubectl -n kube-system describe pods -l app.kubernetes.io/name=yurt-tunnel-server';
    for (const body of ['error trying to reach service: dial tcp 10.0.0.9:31263: connect: connection refused (egress proxy)', 'error trying to reach service: dial tcp 10.0.0.5:10250: i/o timeout']) {
      const f = tunnelRoute('e1', { status: 503, body }, undefined, undefined, undefined, false);
      expect(f).toMatchObject({ status: 'fail', fix: scale });
      expect(f.evidence).toMatch(/: the apiserver's egress goes to the tunnel server, but no tunnel server runs to carry it$/);
    }
    // A tunnel code comes from a running server (one outside the cluster): still its own fix.
    expect(tunnelRoute('e1', { status: 503, body: 'x (TUN_ERR_NO_AGENT)' }, undefined, undefined, undefined, false).fix).toContain('delete pod -l app.kubernetes.io/name=yurt-tunnel-agent');
    expect(tunnelRoute('e1', { status: 200, body: 'ok' }, undefined, undefined, undefined, false).status).toBe('ok');
    expect(noTunnelServer('kube-system', true)).toMatchObject({ check: 'tunnel-replicas', status: 'fail', evidence: 'no running app.kubernetes.io/name=yurt-tunnel-server pod in kube-system, and the apiserver\'s road to the edge nodes fails: nothing serves its egress', fix: scale });
    expect(noTunnelServer('kube-system', false)).toMatchObject({ status: 'warn', evidence: expect.stringContaining('--tunnel-metrics') });
  });
});

describe('autonomy, leader, readiness', () => {
  it('a missing annotation convert asked for fails and is a safe repair', () => {
    expect(autonomy('e1', { 'node.beta.openyurt.io/autonomy': 'true' }, true).status).toBe('ok');
    expect(autonomy('e1', {}, true)).toMatchObject({ status: 'fail', fix: 'kubectl annotate node e1 node.beta.openyurt.io/autonomy=true --overwrite', repair: { kind: 'annotate-autonomy', node: 'e1' } });
    expect(autonomy('e1', {}, false).status).toBe('ok');
    expect(autonomy('e1', { 'node.beta.openyurt.io/autonomy': 'false' }, undefined).status).toBe('warn');
  });
  it('yurt-manager\'s Lease: missing, stale, or held', () => {
    expect(managerLeader(undefined, NOW, 'kube-system/yurt-manager').status).toBe('fail');
    expect(managerLeader({ holder: 'm-1', renewTime: new Date(NOW - 60_000).toISOString(), durationSeconds: 15 }, NOW, 'kube-system/yurt-manager')).toMatchObject({ status: 'fail', fix: 'kubectl -n kube-system rollout restart deployment/yurt-manager' });
    expect(managerLeader({ holder: 'm-1', renewTime: new Date(NOW - 2_000).toISOString(), durationSeconds: 15 }, NOW, 'kube-system/yurt-manager')).toMatchObject({ status: 'ok', evidence: 'm-1 renewed Lease kube-system/yurt-manager 2.0 s ago' });
    expect(managerLeader({ renewTime: new Date(NOW).toISOString() }, NOW, 'x/y').status).toBe('fail');
  });
  it('node readiness', () => {
    expect(nodeReady('e1', true, '', 3000).status).toBe('ok');
    expect(nodeReady('e1', false, 'NodeStatusUnknown', 60_000)).toMatchObject({ status: 'fail', evidence: 'not Ready (NodeStatusUnknown); Lease renewed 60 s ago' });
  });
  it('the hub from the cloud: mirror pod, else the Lease', () => {
    expect(hubFromCloud('e1', { name: 'yurt-hub-e1', ready: true, phase: 'Running', restarts: 0 }, true, 1000).status).toBe('ok');
    expect(hubFromCloud('e1', { name: 'yurt-hub-e1', ready: false, phase: 'Running', restarts: 7, waiting: 'CrashLoopBackOff' }, true, 1000).fix).toContain('crictl rm -f');
    expect(hubFromCloud('e1', undefined, true, 1000).status).toBe('warn');
    expect(hubFromCloud('e1', undefined, false, undefined).status).toBe('fail');
  });
});

describe('clock skew', () => {
  const date = new Date(NOW).toUTCString();
  it('from the node: within Date\'s second and the round trip is in step', () => {
    expect(clockSkewFromNode('e1', NOW + 500, date, 20).status).toBe('ok');
    expect(clockSkewFromNode('e1', NOW - 10, date, 20).status).toBe('ok');
  });
  it('ahead or behind beyond the thresholds', () => {
    expect(clockSkewFromNode('e1', NOW + 6_000, date, 20)).toMatchObject({ status: 'warn', evidence: expect.stringContaining('5.0 s ahead') });
    expect(clockSkewFromNode('e1', NOW - 120_000, date, 20)).toMatchObject({ status: 'fail', evidence: expect.stringContaining('120 s behind'), fix: 'on e1: timedatectl set-ntp true && chronyc makestep' });
    expect(clockSkewFromNode('e1', NOW, undefined, 20).status).toBe('warn');
  });
  it('from the cloud: a renewTime after the apiserver\'s Date is a clock ahead; a stale Lease tells nothing', () => {
    expect(clockSkewFromLease('e1', new Date(NOW + 45_000).toISOString(), date)?.status).toBe('fail');
    expect(clockSkewFromLease('e1', new Date(NOW - 3_000).toISOString(), date)?.status).toBe('ok');
    expect(clockSkewFromLease('e1', new Date(NOW - 300_000).toISOString(), date)).toBeUndefined();
  });
});

describe('report', () => {
  const f = (status: Finding['status'], node?: string): Finding => ({ check: 'c', status, evidence: 'e', ...(node ? { node } : {}), ...(status === 'ok' ? {} : { fix: 'do it' }) });
  it('the exit code is the worst finding\'s', () => {
    expect(STATUS_EXIT[worst([f('ok'), f('warn'), f('ok')])]).toBe(10);
    expect(STATUS_EXIT[worst([f('ok'), f('fail'), f('warn')])]).toBe(11);
    expect(STATUS_EXIT[worst([])]).toBe(0);
  });
  it('text puts each fix under its finding; json leaves the repair handles out', () => {
    const r = report('cloud', [{ ...f('fail', 'e1'), repair: { kind: 'annotate-autonomy', node: 'e1' } }, f('ok', 'e2')]);
    const text = renderReport(r, 'text');
    expect(text.split('\n')).toEqual(['NODE   CHECK   STATUS   EVIDENCE', 'e1     c       FAIL     e', '                        fix: do it', 'e2     c       OK       e', '', 'unhealthy: 1 fail, 0 warn, 1 ok']);
    const json = JSON.parse(renderReport(r, 'json')) as { worst: string; findings: object[] };
    expect(json.worst).toBe('fail');
    expect(json.findings[0]).not.toHaveProperty('repair');
  });
});

describe('metrics and the manifest', () => {
  it('parses Prometheus text and sums series by label', () => {
    const s = parseMetrics('# HELP x\nyurt_tunnel_agent_sessions_connected{server="a"} 1\nyurt_tunnel_agent_sessions_connected{server="b"} 1\nyurthub_certificate_expiration_timestamp_seconds 1.8e9\nbad line here\n');
    expect(total(s, 'yurt_tunnel_agent_sessions_connected')).toBe(2);
    expect(total(s, 'yurt_tunnel_agent_sessions_connected', { server: 'b' })).toBe(1);
    expect(total(s, 'yurthub_certificate_expiration_timestamp_seconds')).toBe(1.8e9);
    expect(total(s, 'missing')).toBeUndefined();
  });
  it('reads the hub\'s port and address from its static pod', () => {
    expect(hubFromManifest('spec:\n  containers:\n    - args: ["--port=10300", "--bind-address=127.0.0.2", "--cache-dir=/var/lib/hub"]\n')).toEqual({ port: 10300, bind: '127.0.0.2', cacheDir: '/var/lib/hub' });
    expect(hubFromManifest('spec: {}\n')).toEqual({ port: undefined, bind: undefined, cacheDir: undefined });
  });
});

describe('conversion and the node Job', () => {
  const job = { namespace: 'kube-system', name: 'yurtctl-convert-e1', active: 0, succeeded: 0, failed: 1 };
  it('converted is ok; a running node side a warning; a failed one a re-run of its Job', () => {
    expect(conversion('e1', 'converted', { ...job, failed: 0, succeeded: 1 }).status).toBe('ok');
    expect(conversion('e1', 'pending', { ...job, active: 1, failed: 0 })).toMatchObject({ status: 'warn', fix: 'kubectl -n kube-system logs -f job/yurtctl-convert-e1' });
    expect(conversion('e1', 'failed', job)).toMatchObject({ status: 'fail', repair: { kind: 'rerun-job', namespace: 'kube-system', name: 'yurtctl-convert-e1' } });
    expect(conversion('e1', undefined, undefined)).toMatchObject({ status: 'fail', fix: 'yurtctl convert <the same flags>   # creates its node Job' });
  });
  it('a Job to run again is the one yurtctl created, without what the Job controller added', () => {
    const copy = rerunnable({
      metadata: { name: 'yurtctl-convert-e1', namespace: 'kube-system', uid: 'u1', resourceVersion: '9', labels: { 'yurt-edge.io/node': 'e1', 'batch.kubernetes.io/controller-uid': 'u1' }, annotations: { 'yurt-edge.io/spec-hash': 'h' } },
      spec: {
        backoffLimit: 0, manualSelector: false, selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'u1' } },
        template: { metadata: { labels: { 'yurt-edge.io/node': 'e1', 'controller-uid': 'u1', 'job-name': 'yurtctl-convert-e1', 'batch.kubernetes.io/job-name': 'yurtctl-convert-e1', 'batch.kubernetes.io/controller-uid': 'u1' } }, spec: { containers: [{ name: 'c', image: 'i' }], restartPolicy: 'Never' } },
      },
      status: { failed: 1 },
    });
    expect(copy).toEqual({
      apiVersion: 'batch/v1', kind: 'Job',
      metadata: { name: 'yurtctl-convert-e1', namespace: 'kube-system', labels: { 'yurt-edge.io/node': 'e1' }, annotations: { 'yurt-edge.io/spec-hash': 'h' } },
      spec: { backoffLimit: 0, template: { metadata: { labels: { 'yurt-edge.io/node': 'e1' } }, spec: { containers: [{ name: 'c', image: 'i' }], restartPolicy: 'Never' } } },
    });
  });
});
