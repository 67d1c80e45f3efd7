// Memory: 20,000 connections opened and closed through the middleware. Heap after
// GC against the baseline taken after a warm-up, and stats().open at the end.
// Needs --expose-gc:
//
//   node --expose-gc --import tsx bench/memory.ts [--connections 20000]
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import express from 'express';
import { connectionPolicy } from '../src/index.js';

const { values } = parseArgs({ options: { connections: { type: 'string', default: '20000' } } });
const total = Number(values.connections);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc');
  process.exit(2);
}

const policy = connectionPolicy({ exposeConnectionId: true });
const app = express();
app.use(policy);
app.get('/', (req, res) => void res.send('ok'));
const server = policy.attach(http.createServer(app));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const { port } = server.address() as AddressInfo;

/** One connection: two requests on it (so it is reused), then the client closes. */
function oneConnection(): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let seen = 0;
    let buf = '';
    socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      seen = buf.split('\r\n\r\nok').length - 1;
      if (seen === 2) socket.end();
    });
    socket.on('close', () => (seen === 2 ? resolve() : reject(new Error('connection closed early'))));
    socket.on('error', reject);
  });
}

async function run(n: number): Promise<void> {
  const batch = 100;
  for (let i = 0; i < n; i += batch) await Promise.all(Array.from({ length: Math.min(batch, n - i) }, oneConnection));
}

async function settledHeap(): Promise<number> {
  while (policy.stats().open > 0) await new Promise((r) => setTimeout(r, 10));
  for (let i = 0; i < 5; i++) {
    gc!();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

await run(2000); // warm-up: JIT, pools, Express internals
const baseline = await settledHeap();
const started = Date.now();
await run(total);
const after = await settledHeap();
const stats = policy.stats();
server.close();
const deltaMb = (after - baseline) / 1024 / 1024;
console.log(`\n${total} connections (2 requests each) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(
  `heap after GC: baseline ${(baseline / 1048576).toFixed(2)} MB, after ${(after / 1048576).toFixed(2)} MB, delta ${deltaMb.toFixed(2)} MB (target within 5 MB: ${Math.abs(deltaMb) <= 5 ? 'met' : 'MISSED'})`,
);
console.log(
  `stats(): open ${stats.open}, accepted ${stats.accepted}, requests ${stats.requests}, closed.client ${stats.closed.client}`,
);
console.log(
  JSON.stringify({
    bench: 'memory',
    connections: total,
    baselineBytes: baseline,
    afterBytes: after,
    deltaMb,
    open: stats.open,
    met: Math.abs(deltaMb) <= 5 && stats.open === 0,
  }),
);
