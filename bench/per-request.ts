// The policy's own per-request work, in ns per request, for each configuration
// that matters — so a regression on the hot path shows up as a number.
//
// Each iteration builds a real IncomingMessage / ServerResponse pair on a real,
// accepted loopback socket, emits the server's 'request' event as Node does (the
// server's listeners: the policy's own where it has one, then an Express 5 hello
// world with the policy first), lets the route write its response (buffered: the
// response is never assigned to the socket, so no syscall blurs the figure) and
// emits the response's 'finish' and 'close', as Node does after every response.
// The baseline is the same app with a pass-through layer in the policy's place;
// configuration and baseline alternate (A B A B …) and the figure is the median
// over rounds of (configuration − baseline). Each configuration runs in a process
// of its own, so that what the JIT learnt from one does not tax the next.
//
//   node --import tsx bench/per-request.ts [--app plain|express] [--iterations 20000] [--rounds 15] [--json]
//                                          [--dist OTHER/dist/esm]   (another build, to compare)
import http, { IncomingMessage, ServerResponse } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { channel } from 'node:diagnostics_channel';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import express from 'express';
import * as sources from '../src/index.js';
import type { ConnectionPolicyOptions } from '../src/index.js';
import { fmt, median, table } from './lib/measure.js';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '15' },
    json: { type: 'boolean', default: false },
    // Internal: run one configuration (its index) in this process and print its figure.
    config: { type: 'string' },
    // plain: a node:http handler behind the policy (the policy's own work, precise);
    // express: an Express 5 hello world with the policy first (what users run, noisier).
    app: { type: 'string', default: 'plain' },
    // Another build of the package (its dist/esm directory) instead of the sources.
    dist: { type: 'string' },
  },
});
const { connectionPolicy } = (
  values.dist ? await import(pathToFileURL(`${values.dist}/index.js`).href) : sources
) as typeof sources;
const iterations = Number(values.iterations);
const rounds = Number(values.rounds);

type Middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;
interface Config {
  name: string;
  options?: ConnectionPolicyOptions;
  attach?: boolean;
  /** Subscribe to the decision channel while this configuration runs. */
  subscribe?: boolean;
}

const CONFIGS: Config[] = [
  { name: 'fixed keep-alive', options: {} },
  { name: 'fixed keep-alive, attached', options: {}, attach: true },
  { name: 'policy function', options: { policy: () => 'keep-alive' } },
  { name: 'policy function, attached', options: { policy: () => 'keep-alive' }, attach: true },
  { name: 'maxRequests: 1e9', options: { maxRequests: 1e9 } },
  { name: 'maxRequests: 1e9, attached', options: { maxRequests: 1e9 }, attach: true },
  { name: 'maxAge: 1e9', options: { maxAge: 1e9 } },
  { name: 'maxAge: 1e9, attached', options: { maxAge: 1e9 }, attach: true },
  { name: 'exposeConnectionId', options: { exposeConnectionId: true } },
  { name: 'exposeConnectionId, attached', options: { exposeConnectionId: true }, attach: true },
  { name: 'attached, a decision-channel subscriber', options: {}, attach: true, subscribe: true },
];

type App = (req: IncomingMessage, res: ServerResponse) => void;

function helloApp(first: Middleware): App {
  if (values.app === 'plain') return (req, res) => first(req, res, () => res.end('hello'));
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(first);
  app.get('/', (req, res) => void res.send('hello'));
  return app;
}

/**
 * A server running `app`, with a real accepted socket to build requests on. One
 * request on another connection first: the one a server's first request arrives
 * on is the only one the middleware admits itself.
 */
async function serverFor(app: App, attach?: (s: http.Server) => unknown) {
  const server = http.createServer(app);
  attach?.(server);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  await new Promise<void>((ok, fail) => http.get(url, { agent: false }, (r) => r.resume().once('end', ok)).once('error', fail));
  const accepted = new Promise<Socket>((ok) => server.once('connection', ok));
  const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  const socket = await accepted;
  return {
    server,
    socket,
    close: async () => {
      client.destroy();
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    },
  };
}

const HEADERS = { host: '127.0.0.1', 'user-agent': 'bench', accept: '*/*' };

function loop(server: http.Server, socket: Socket, n: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const req = new IncomingMessage(socket);
    req.httpVersionMajor = 1;
    req.httpVersionMinor = 1;
    req.httpVersion = '1.1';
    req.method = 'GET';
    req.url = '/';
    req.headers = HEADERS;
    const res = new ServerResponse(req);
    server.emit('request', req, res);
    res.emit('finish');
    res.emit('close');
  }
  return Number(process.hrtime.bigint() - start) / n;
}

const decisionChannel = channel(sources.DECISION_CHANNEL);
const onDecision = () => {};
const results: Array<{ name: string; ns: number }> = [];
async function measure(config: Config): Promise<number> {
  const baseline = await serverFor(helloApp((req, res, next) => next()));
  const policy = connectionPolicy(config.options);
  const subject = await serverFor(helloApp(policy), config.attach ? (s) => policy.attach(s) : undefined);
  if (config.subscribe) decisionChannel.subscribe(onDecision);
  try {
    for (let i = 0; i < 3; i++) {
      loop(baseline.server, baseline.socket, iterations); // warm-up
      loop(subject.server, subject.socket, iterations);
    }
    const diffs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const base = loop(baseline.server, baseline.socket, iterations);
      diffs.push(loop(subject.server, subject.socket, iterations) - base);
    }
    return median(diffs);
  } finally {
    if (config.subscribe) decisionChannel.unsubscribe(onDecision);
    await subject.close();
    await baseline.close();
  }
}

if (values.config !== undefined) {
  console.log(JSON.stringify({ ns: await measure(CONFIGS[Number(values.config)]!) }));
  process.exit(0);
}
for (const [i, config] of CONFIGS.entries()) {
  const child = spawnSync(
    process.execPath,
    [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--config',
      String(i),
      '--iterations',
      String(iterations),
      '--rounds',
      String(rounds),
      '--app',
      values.app,
      ...(values.dist ? ['--dist', values.dist] : []),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const { ns } = JSON.parse(child.stdout.trim().split('\n').pop()!) as { ns: number };
  results.push({ name: config.name, ns });
  if (!values.json) process.stderr.write(`${config.name}: ${fmt(ns, 0)} ns\n`);
}
const where = values.app === 'plain' ? 'around a node:http handler' : 'in an Express 5 hello world';
console.log(
  `\nper-request work of the policy ${where}, ns per request above a pass-through layer (median of ${rounds} rounds × ${iterations})\n`,
);
console.log(table([['configuration', 'ns / request'], ...results.map((r) => [r.name, fmt(r.ns, 0)])]));
if (values.json) console.log(JSON.stringify({ bench: 'per-request', app: values.app, results }));
