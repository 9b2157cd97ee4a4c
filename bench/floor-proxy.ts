/**
 * The floor for the GET figures: the least a Node reverse proxy can do — node:http in, node:https
 * with a keep-alive agent and the node's client certificate out, headers copied, body piped. No
 * classification, no cache, no metrics. What yurthub adds beyond this is the hub's own cost; what
 * this adds over a direct request is what any proxy written in Node costs on the machine.
 *
 * Run as its own process: node floor-proxy.js <apiserver URL> <ca> <cert> <key>; prints its port.
 */
import { createServer } from 'node:http';
import { Agent, request } from 'node:https';
import { readFileSync } from 'node:fs';

const [upstream, caFile, certFile, keyFile] = process.argv.slice(2);
if (!upstream || !caFile || !certFile || !keyFile) {
  process.stderr.write('usage: floor-proxy <apiserver URL> <ca> <cert> <key>\n');
  process.exit(2);
}
const target = new URL(upstream);
const agent = new Agent({ keepAlive: true, maxSockets: Infinity, ca: readFileSync(caFile), cert: readFileSync(certFile), key: readFileSync(keyFile) });

const server = createServer((req, res) => {
  const headers = { ...req.headers, host: target.host };
  delete headers.connection;
  const out = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers, agent }, (upstreamRes) => {
    const back = { ...upstreamRes.headers };
    delete back.connection;
    delete back['keep-alive'];
    res.writeHead(upstreamRes.statusCode ?? 502, back);
    upstreamRes.pipe(res);
  });
  out.once('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(out);
});
server.keepAliveTimeout = 90_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
