/**
 * The forwarding code alone, for the relay suite: a node:http server that sends each request to the
 * apiserver and streams the answer back with yurthub's relay() (yurthub/proxy/relay.ts: hop-by-hop
 * headers dropped, body piped, nothing cached). The first argument picks how the request is sent,
 * and nothing else differs between the two:
 *  - `http-proxy`: the http-proxy library, called as yurthub/proxy/remote.ts called it before the hub
 *    had its own forwarder (one createProxyServer, `proxy.web(req, res, { target, agent, ... })` per
 *    request, selfHandleResponse, the response handed over by the `proxyRes` event);
 *  - `forward`: yurthub/proxy/forward.ts, one attempt per request as remote.ts makes it (no retry is
 *    ever needed here: the benchmark's requests all succeed).
 * Both send through the hub's own upstream agent (UpstreamAgents: keep-alive, lifo, the node's
 * client certificate). Each loads only its own forwarding module, so their memory differs by it alone.
 *
 * Run from the transpiled build (bench/hub-process.ts), as its own process:
 * node relay-proxy.js <http-proxy|forward> <apiserver URL> <ca> <cert> <key>; prints its port.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { CacheWriter } from '../yurthub/cache/writer.js';
import { UpstreamAgents } from '../yurthub/upstream-agents.js';
import type { ProxyContext } from '../yurthub/proxy/context.js';
import type { UpstreamResponse } from '../yurthub/proxy/forward.js';
import { relay } from '../yurthub/proxy/relay.js';

const [mode, upstream, caFile, certFile, keyFile] = process.argv.slice(2);
if ((mode !== 'http-proxy' && mode !== 'forward') || !upstream || !caFile || !certFile || !keyFile) {
  process.stderr.write('usage: relay-proxy <http-proxy|forward> <apiserver URL> <ca> <cert> <key>\n');
  process.exit(2);
}
const target = new URL(upstream);
const identity = new UpstreamAgents({ ca: readFileSync(caFile), certPem: readFileSync(certFile), keyPem: readFileSync(keyFile) });
const agent = identity.agent(target, false);

/** relay() asks the writer for a sink only for cacheable requests; none is here. */
const noCache = { begin: () => undefined } as Pick<CacheWriter, 'begin'> as CacheWriter;

function respond(req: IncomingMessage, res: ServerResponse, upstreamRes: UpstreamResponse): void {
  // The fields relay() reads for a request that is not cached.
  const ctx = { req, res, cacheable: false, component: 'bench', body: undefined, servedFrom: 'remote' } as ProxyContext;
  relay(ctx, upstreamRes, noCache);
}

function badGateway(res: ServerResponse): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(502).end();
}

type Forwarder = (req: IncomingMessage, res: ServerResponse) => void;

async function viaHttpProxy(): Promise<Forwarder> {
  const { default: httpProxy } = await import('http-proxy');
  const proxy = httpProxy.createProxyServer({ xfwd: false, ws: false, ignorePath: false, changeOrigin: true });
  proxy.on('error', () => {});
  // One listener for all requests, as remote.ts had it.
  const responders = new WeakMap<IncomingMessage, (upstreamRes: IncomingMessage) => void>();
  proxy.on('proxyRes', (upstreamRes, req) => responders.get(req)?.(upstreamRes));
  return (req, res) => {
    proxy.web(req, res, { target: target.origin, agent, headers: {}, selfHandleResponse: true, secure: true }, () => badGateway(res));
    responders.set(req, (upstreamRes) => {
      responders.delete(req);
      respond(req, res, upstreamRes);
    });
  };
}

async function viaForward(): Promise<Forwarder> {
  const { forward } = await import('../yurthub/proxy/forward.js');
  return (req, res) => {
    const call = forward({ req, body: undefined, target, agent: () => agent, headers: {} });
    // As remote.ts: a client that goes away before the end aborts the attempt.
    const clientGone = () => call.abort();
    res.once('close', clientGone);
    void call.outcome.then((outcome) => {
      if (outcome.kind === 'failed') {
        res.off('close', clientGone);
        return badGateway(res);
      }
      outcome.res.once('end', () => res.off('close', clientGone));
      respond(req, res, outcome.res);
    });
  };
}

const handle = mode === 'forward' ? await viaForward() : await viaHttpProxy();
const server = createServer(handle);
// The hub's server settings (yurthub/server.ts).
server.requestTimeout = 0;
server.headersTimeout = 60_000;
server.keepAliveTimeout = 90_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
