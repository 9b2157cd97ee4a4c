/**
 * Who may serve which node: the agent endpoint binds each session to the node its certificate
 * names, refuses everything else with a status and a code, and applies the duplicate policy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { TunnelWorld, type Files } from '../testing/fixture.js';
import { eventually as until } from '../testing/wait.js';
import { AGENT_PATH, ERROR_CODE_HEADER, NODE_HEADER } from '../protocol/index.js';
import type { RunningServer } from '../server/start.js';

interface Outcome {
  status: number;
  code: string;
  ws?: WebSocket;
}

describe('agent identity and authorization', () => {
  let world: TunnelWorld;
  let server: RunningServer;

  beforeAll(async () => {
    world = await TunnelWorld.create();
    server = await world.startServer(['--static-nodes=node-a=127.0.0.1,node-b=127.0.0.2', '--duplicate-probe-timeout=300ms']);
  });

  afterAll(async () => {
    await world?.close();
  });

  /** A bare agent handshake: `autoPong: false` makes an agent that stopped answering pings. */
  function handshake(files: Files | null, claim?: string, autoPong = true): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://localhost:${server.ports.agent}${AGENT_PATH}`, {
        ca: readFileSync(world.caFile),
        cert: files ? readFileSync(files.certFile) : undefined,
        key: files ? readFileSync(files.keyFile) : undefined,
        headers: claim ? { [NODE_HEADER]: claim } : {},
        autoPong,
      });
      ws.once('open', () => resolve({ status: 101, code: '', ws }));
      ws.once('unexpected-response', (req, res) => {
        resolve({ status: res.statusCode ?? 0, code: String(res.headers[ERROR_CODE_HEADER] ?? '') });
        req.destroy();
      });
      ws.once('error', (err) => reject(err));
    });
  }

  it('binds a session to the node its certificate names', async () => {
    const ok = await handshake(await world.nodeFiles('node-a'), 'node-a');
    expect(ok.status).toBe(101);
    await until(() => server.registry.session('node-a') !== undefined, 'node-a registered');
    ok.ws!.close();
    await until(() => server.registry.get('node-a') === undefined, 'node-a gone');
  });

  it("rejects an agent with node A's identity asking to serve node B (403 TUN_ERR_AGENT_IDENTITY_MISMATCH)", async () => {
    const out = await handshake(await world.nodeFiles('node-a'), 'node-b');
    expect(out).toEqual({ status: 403, code: 'TUN_ERR_AGENT_IDENTITY_MISMATCH' });
    expect(server.registry.get('node-b')).toBeUndefined();
    const counted = (await server.metrics.agentConnections.get()).values.find((v) => v.labels.result === 'TUN_ERR_AGENT_IDENTITY_MISMATCH');
    expect(counted?.value).toBe(1);
  });

  it('rejects certificates that are not node identities (403) and agents without one (401)', async () => {
    const notNode = await handshake(await world.certFiles('admin', 'kubernetes-admin', ['system:masters']));
    expect(notNode).toEqual({ status: 403, code: 'TUN_ERR_AGENT_NOT_A_NODE' });
    const noGroup = await handshake(await world.certFiles('no-group', 'system:node:node-a'));
    expect(noGroup).toEqual({ status: 403, code: 'TUN_ERR_AGENT_NOT_A_NODE' });
    const anonymous = await handshake(null);
    expect(anonymous).toEqual({ status: 401, code: 'TUN_ERR_AGENT_UNAUTHENTICATED' });
  });

  it('rejects a certificate from another CA (401)', async () => {
    const other = await TunnelWorld.create();
    try {
      const out = await handshake(await other.nodeFiles('node-a'));
      expect(out).toEqual({ status: 401, code: 'TUN_ERR_AGENT_UNAUTHENTICATED' });
    } finally {
      await other.close();
    }
  });

  it('refuses a second agent for a node whose agent still answers pings (409 TUN_ERR_AGENT_DUPLICATE)', async () => {
    const files = await world.nodeFiles('node-b');
    const first = await handshake(files);
    expect(first.status).toBe(101);
    await until(() => server.registry.session('node-b') !== undefined, 'node-b registered');
    const second = await handshake(files);
    expect(second).toEqual({ status: 409, code: 'TUN_ERR_AGENT_DUPLICATE' });
    expect(first.ws!.readyState).toBe(WebSocket.OPEN);
    first.ws!.close();
    await until(() => server.registry.get('node-b') === undefined, 'node-b gone');
  });

  it('replaces a connected agent that no longer answers pings', async () => {
    const files = await world.nodeFiles('node-b', 'node-b-2');
    const stale = await handshake(files, undefined, false);
    expect(stale.status).toBe(101);
    await until(() => server.registry.session('node-b') !== undefined, 'stale registered');
    const staleLink = server.registry.get('node-b');
    const closed = new Promise((resolve) => stale.ws!.once('close', resolve));
    const fresh = await handshake(files);
    expect(fresh.status).toBe(101);
    await closed;
    await until(() => server.registry.get('node-b') !== undefined && server.registry.get('node-b') !== staleLink, 'fresh registered');
    const replaced = (await server.metrics.agentConnections.get()).values.find((v) => v.labels.result === 'replaced');
    expect(replaced?.value).toBe(1);
    fresh.ws!.close();
  });
});
