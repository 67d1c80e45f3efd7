// Several Express 5 hello-world servers in ONE process, each on its own port, for
// bench/interleaved.ts: load alternates between two of them batch by batch, and
// the CPU each batch took is read here, so two variants are compared within the
// same process, JIT and moment.
//
//   pass           app.use((req, res, next) => next()) first: the calibration layer
//   pass-twin      the same again: pass / pass-twin is the method's own error (A/A)
//   policy         app.use(connectionPolicy()) first
//   policy-attached  the same, with policy.attach(server)
//   bare-http, http-policy, http-policy-attached   node:http, res.end('hello')
//   bare-http2, bare-http2-twin, http2-policy-attached   node:http2 (h2c), res.end('hello')
//                  through the compatibility API; batches are marked at 'stream'
// With --baseline DIST, policy@baseline, policy-attached@baseline, http-policy-attached@baseline
// and http2-policy-attached@baseline run another
// build of the package (its dist/esm) beside this one.
//
// IPC: { attribute: [a, b] } starts attributing batches to those servers;
// { report: true } → { batches: { name: [[cpu µs, requests], …] } } since the last report.
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import express from 'express';
import type * as Package from '../../src/index.js';

const { values } = parseArgs({
  options: { dist: { type: 'string' }, baseline: { type: 'string' }, servers: { type: 'string' } },
});
const load = async (dist: string) => (await import(pathToFileURL(`${dist}/index.js`).href)) as typeof Package;
const current = await load(values.dist ?? fileURLToPath(new URL('../../dist/esm', import.meta.url)));
const baseline = values.baseline === undefined ? undefined : await load(values.baseline);

function expressServer(pkg: typeof Package | undefined, layer: 'pass' | 'policy', attach: boolean): http.Server {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const policy = pkg?.connectionPolicy();
  if (layer === 'pass') app.use((req, res, next) => next());
  else app.use(policy!);
  app.all('/', (req, res) => void res.send('hello'));
  const server = http.createServer(app);
  if (attach) policy!.attach(server);
  return server;
}

function httpServer(pkg: typeof Package | undefined, attach: boolean): http.Server {
  const policy = pkg?.connectionPolicy();
  const reply = (res: http.ServerResponse) => res.end('hello');
  const server = http.createServer(policy ? (req, res) => policy(req, res, () => reply(res)) : (req, res) => reply(res));
  if (attach) policy!.attach(server);
  return server;
}

function http2Server(pkg: typeof Package | undefined): http2.Http2Server {
  const server = http2.createServer((req, res) => res.end('hello'));
  pkg?.connectionPolicy().attach(server);
  return server;
}

/**
 * Experiments that isolate what the policy's shape costs, without its logic:
 * `listener` a prepended no-op 'request' listener; `listener-fields` that listener
 * also adding a symbol property to the request and an own writeHead to the response.
 */
const kProbe = Symbol.for('bench.probe');
function experiment(kind: 'listener' | 'listener-fields'): http.Server {
  const server = expressServer(undefined, 'pass', false);
  function writeHead(this: http.ServerResponse, ...args: unknown[]): http.ServerResponse {
    const proto = Object.getPrototypeOf(this) as { writeHead: (...a: unknown[]) => http.ServerResponse };
    return proto.writeHead.apply(this, args);
  }
  server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (kind === 'listener') return;
    (req as unknown as Record<symbol, unknown>)[kProbe] = { id: 1, requests: 1, reused: false, openedAt: 0 };
    (res as unknown as { writeHead: typeof writeHead }).writeHead = writeHead;
  });
  return server;
}

type Server = http.Server | http2.Http2Server;
const VARIANTS: Record<string, () => Server> = {
  'bare-http2': () => http2Server(undefined),
  'bare-http2-twin': () => http2Server(undefined),
  'http2-policy-attached': () => http2Server(current),
  listener: () => experiment('listener'),
  'listener-fields': () => experiment('listener-fields'),
  pass: () => expressServer(undefined, 'pass', false),
  'pass-twin': () => expressServer(undefined, 'pass', false),
  policy: () => expressServer(current, 'policy', false),
  'policy-attached': () => expressServer(current, 'policy', true),
  'bare-http': () => httpServer(undefined, false),
  'bare-http-twin': () => httpServer(undefined, false),
  'http-policy': () => httpServer(current, false),
  'http-policy-attached': () => httpServer(current, true),
  'policy@baseline': () => expressServer(baseline, 'policy', false),
  'policy-attached@baseline': () => expressServer(baseline, 'policy', true),
  'http2-policy-attached@baseline': () => http2Server(baseline),
  'http-policy-attached@baseline': () => httpServer(baseline, true),
};
// Only the servers asked for (the two of a pair): code shared by every server, the
// package's and Express's alike, then sees as few kinds of request objects as in an
// application's own process.
const servers: Record<string, Server> = {};
for (const name of (values.servers ?? 'pass,pass-twin').split(',')) servers[name] = VARIANTS[name]!();

const ports: Record<string, number> = {};
await Promise.all(
  Object.entries(servers).map(
    ([name, server]) =>
      new Promise<void>((resolve) =>
        server.listen(0, '127.0.0.1', () => {
          ports[name] = (server.address() as AddressInfo).port;
          resolve();
        }),
      ),
  ),
);
/**
 * Batch attribution (bench/interleaved.ts): the client sends a batch of requests
 * to one server (one per connection, all at once), waits for every response,
 * then a batch to the other, and so on. The server is idle between batches, so
 * the CPU from the first arrival of one batch to the first arrival of the next is
 * that batch's, plus the next one's parsing up to its 'request' (HTTP/2: 'stream') event (the same
 * for every server). Process CPU (getrusage: exact at any moment, where the main
 * thread's schedstat is only updated when it sleeps or at a tick) includes V8's
 * GC and compiler threads, as requests per CPU-second should.
 */
const batches: Record<string, Array<[cpu: number, requests: number]>> = {};
let lastServer: string | undefined;
let batchStart = 0;
let batchRequests = 0;
function cpuNow(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}
function marker(name: string): () => void {
  batches[name] = [];
  return () => {
    if (name !== lastServer) {
      const now = cpuNow();
      if (lastServer !== undefined) batches[lastServer]!.push([now - batchStart, batchRequests]);
      lastServer = name;
      batchStart = now;
      batchRequests = 0;
    }
    batchRequests++;
  };
}
/**
 * Where a batch is marked: an HTTP/1 server's 'request', first among its
 * listeners (ahead of any the policy has prepended); on HTTP/2 each session's
 * 'stream', first among its listeners: it comes before the server's 'stream',
 * where the policy listens, and would still come first were the policy to listen
 * on the session.
 */
const markers = new Map<string, () => void>();
const sessions = new Map<string, Set<http2.ServerHttp2Session>>();
for (const [name, server] of Object.entries(servers)) {
  if (server instanceof http.Server) continue;
  const live = new Set<http2.ServerHttp2Session>();
  sessions.set(name, live);
  // After the policy's own 'session' listener (attached when the server was made).
  server.on('session', (session) => {
    live.add(session);
    session.once('close', () => live.delete(session));
    const listener = markers.get(name);
    if (listener !== undefined) session.prependListener('stream', listener);
  });
}
function mark(name: string, listener: () => void): void {
  markers.set(name, listener);
  const live = sessions.get(name);
  if (live === undefined) servers[name]!.prependListener('request', listener);
  else for (const session of live) session.prependListener('stream', listener);
}
function unmarkAll(): void {
  for (const [name, listener] of markers) {
    const live = sessions.get(name);
    if (live === undefined) servers[name]!.off('request', listener);
    else for (const session of live) session.off('stream', listener);
  }
  markers.clear();
}

process.on('message', (message: { attribute?: string[]; report?: boolean }) => {
  if (message.attribute !== undefined) {
    unmarkAll();
    lastServer = undefined;
    for (const name of message.attribute) mark(name, marker(name));
    process.send!({ attributing: true });
    return;
  }
  if (message.report === true) {
    // Complete batches only: the open one (which this message's own CPU would
    // land in) is dropped, and the next batch starts afresh.
    lastServer = undefined;
    process.send!({ batches: { ...batches } });
    for (const name of Object.keys(batches)) batches[name] = [];
    return;
  }
});
process.send!({ ports });
process.once('disconnect', () => process.exit(0));
