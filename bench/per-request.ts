// The policy's own per-request work, in ns per request, for each configuration
// that matters — so a regression on the hot path shows up as a number.
//
// Each iteration builds a real IncomingMessage / ServerResponse pair on a real,
// accepted loopback socket (the server's own HTTP machinery is attached to it),
// runs the middleware, writes a small response (buffered: the response is never
// assigned to the socket, so no syscall blurs the figure) and emits the
// response's 'close', as Node does after every response. The same loop without
// the middleware is the baseline; configurations and baseline alternate
// (A B A B …) and the figure is the median over rounds of (config − baseline).
//
//   node --import tsx bench/per-request.ts [--iterations 20000] [--rounds 15] [--json]
import http, { IncomingMessage, ServerResponse } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { channel } from 'node:diagnostics_channel';
import { parseArgs } from 'node:util';
import { connectionPolicy, DECISION_CHANNEL, type ConnectionPolicyOptions } from '../src/index.js';
import { fmt, median, table } from '../scripts/lib/measure.js';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '15' },
    json: { type: 'boolean', default: false },
  },
});
const iterations = Number(values.iterations);
const rounds = Number(values.rounds);

type Middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;
interface Config {
  name: string;
  options?: ConnectionPolicyOptions;
  attach?: boolean;
  /** A plain function instead of the policy: the calibration. */
  middleware?: Middleware;
  /** Subscribe to the decision channel while this configuration runs. */
  subscribe?: boolean;
}

const CONFIGS: Config[] = [
  { name: 'pass-through (req, res, next) => next()', middleware: (req, res, next) => next() },
  { name: 'fixed keep-alive', options: {} },
  { name: 'fixed keep-alive, attached', options: {}, attach: true },
  { name: "policy function", options: { policy: () => 'keep-alive' } },
  { name: 'policy function, attached', options: { policy: () => 'keep-alive' }, attach: true },
  { name: 'maxRequests: 1e9', options: { maxRequests: 1e9 } },
  { name: 'maxRequests: 1e9, attached', options: { maxRequests: 1e9 }, attach: true },
  { name: 'maxAge: 1e9', options: { maxAge: 1e9 } },
  { name: 'maxAge: 1e9, attached', options: { maxAge: 1e9 }, attach: true },
  { name: 'exposeConnectionId', options: { exposeConnectionId: true } },
  { name: 'exposeConnectionId, attached', options: { exposeConnectionId: true }, attach: true },
  { name: 'attached, a decision-channel subscriber', options: {}, attach: true, subscribe: true },
];

/** A server with a real accepted socket to build requests on. */
async function acceptedSocket(attach: Middleware & { attach?: (s: http.Server) => http.Server } | undefined) {
  const server = http.createServer();
  if (attach?.attach) attach.attach(server);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const accepted = new Promise<Socket>((ok) => server.once('connection', ok));
  const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  const socket = await accepted;
  return {
    socket,
    close: async () => {
      client.destroy();
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    },
  };
}

const HEADERS = { host: '127.0.0.1', 'user-agent': 'bench', accept: '*/*' };
const next = () => {};

function loop(socket: Socket, middleware: Middleware | undefined, n: number): number {
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
    if (middleware !== undefined) middleware(req, res, next);
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.end('hello');
    res.emit('finish');
    res.emit('close');
  }
  return Number(process.hrtime.bigint() - start) / n;
}

const decisionChannel = channel(DECISION_CHANNEL);
const onDecision = () => {};
const results: Array<{ name: string; ns: number }> = [];
for (const config of CONFIGS) {
  const middleware = config.middleware ?? connectionPolicy(config.options);
  const { socket, close } = await acceptedSocket(config.attach ? (middleware as never) : undefined);
  if (config.subscribe) decisionChannel.subscribe(onDecision);
  try {
    loop(socket, undefined, iterations); // warm-up
    loop(socket, middleware, iterations);
    const diffs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const base = loop(socket, undefined, iterations);
      const withIt = loop(socket, middleware, iterations);
      diffs.push(withIt - base);
    }
    results.push({ name: config.name, ns: median(diffs) });
    if (!values.json) process.stderr.write(`${config.name}: ${fmt(median(diffs), 0)} ns\n`);
  } finally {
    if (config.subscribe) decisionChannel.unsubscribe(onDecision);
    await close();
  }
}
console.log(`\nper-request work of the middleware, ns per request above a loop without it (median of ${rounds} rounds × ${iterations})\n`);
console.log(table([['configuration', 'ns / request'], ...results.map((r) => [r.name, fmt(r.ns, 0)])]));
if (values.json) console.log(JSON.stringify({ bench: 'per-request', results }));
