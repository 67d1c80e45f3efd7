// The same policy for HTTP/2: an h2c server (prior knowledge) and a TLS server that
// speaks HTTP/2 and, with allowHTTP1, HTTP/1.1, both attached to one policy.
//
//   node --import tsx examples/http2-server.ts [--port 3000] [--tls-port 3443]
//        [--key FILE --cert FILE] [--drain-delay 0] [--drain-spread 2000] [--drain-timeout 10000]
//   curl -sk --http2 https://127.0.0.1:3443/ https://127.0.0.1:3443/   # one session, two streams
//
// Each response is the request's ConnectionInfo. A session is a connection: it gets
// a GOAWAY where HTTP/1.1 would answer `Connection: close` (here maxAge, 10 minutes
// with jitter), and on SIGTERM the two-phase drain: GOAWAY 2^31−1 and a PING, then a
// GOAWAY naming the last stream processed; streams in flight finish. The key and
// certificate default to the test fixtures (localhost, self-signed).
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { connectionInfo, connectionPolicy } from '../src/index.js';
import { drainArgs, drainOnSigterm } from './drain-on-sigterm.js';

const fixture = (name: string) => new URL(`../test/fixtures/${name}`, import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '3000' },
    'tls-port': { type: 'string', default: '3443' },
    key: { type: 'string', default: fixture('localhost-key.pem') },
    cert: { type: 'string', default: fixture('localhost-cert.pem') },
    ...drainArgs,
  },
});

const policy = connectionPolicy({ idleTimeout: 65_000, maxAge: 600_000, exposeConnectionId: true });
const ready = policy.readiness();
const handler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
  if (req.url === '/ready') return ready(req, res);
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({ httpVersion: req.httpVersion, ...connectionInfo(req) }) + '\n');
};

const h2c = policy.attach(http2.createServer(handler));
const tls = policy.attach(
  http2.createSecureServer({ key: readFileSync(values.key), cert: readFileSync(values.cert), allowHTTP1: true }, handler),
);
let listening = 0;
const announce = () => {
  if (++listening < 2) return;
  const port = (s: { address(): unknown }) => (s.address() as AddressInfo).port;
  console.log(
    `http2-server listening on http://127.0.0.1:${port(h2c)}/ (h2c) and https://127.0.0.1:${port(tls)}/ (h2 + HTTP/1.1) (pid ${process.pid})`,
  );
};
h2c.listen(Number(values.port), '127.0.0.1', announce);
tls.listen(Number(values['tls-port']), '127.0.0.1', announce);

drainOnSigterm(policy, values);
