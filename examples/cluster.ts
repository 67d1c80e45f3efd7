// One process per core with node:cluster, each worker with its own policy, and a
// rolling restart that drains the workers one by one: no request is lost.
//
//   node --import tsx examples/cluster.ts [--port 3000] [--workers N] [--drain-delay 1000]
//   kill -HUP <primary pid>    # rolling restart
//   kill -TERM <primary pid>   # drain every worker, then exit
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import express from 'express';
import { connectionPolicy } from '../src/index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '3000' },
    workers: { type: 'string', default: String(availableParallelism()) },
    // The announce phase of each worker's drain: its /ready answers 503 and its
    // responses close their connections while it still serves what arrives.
    'drain-delay': { type: 'string', default: '1000' },
  },
});

if (cluster.isPrimary) {
  runPrimary(Number(values.workers));
} else {
  runWorker(Number(values.port));
}

function runWorker(port: number): void {
  const policy = connectionPolicy({ idleTimeout: 65_000 });
  const app = express();
  app.use(policy);
  app.get('/ready', policy.readiness());
  app.get('/', (req, res) => void res.send(`hello from worker ${process.pid}\n`));
  // Workers share the listening socket through the primary (port 0 included).
  const server = policy.attach(app.listen(port, '127.0.0.1'));
  server.on('listening', () => process.send?.({ listening: (server.address() as AddressInfo).port }));
  process.on('message', async (message) => {
    if (message !== 'drain') return;
    // close() inside drain() makes the primary stop handing this worker connections.
    const result = await policy.drain({ delay: Number(values['drain-delay']), timeout: 10_000 });
    // The primary disconnects us once it has read this: a connection it handed over
    // just before our close() reached it is then refused back to it, and re-routed
    // to another worker, instead of being lost with the IPC channel.
    process.send?.({ drained: result });
  });
}

function runPrimary(count: number): void {
  let announced = false;
  const start = (): Promise<Worker> =>
    new Promise((resolve) => {
      const worker = cluster.fork();
      worker.on('message', (message: { listening?: number }) => {
        if (message.listening === undefined) return;
        if (!announced) {
          announced = true;
          console.log(`listening on http://127.0.0.1:${message.listening} with ${count} workers (primary pid ${process.pid})`);
        }
        resolve(worker);
      });
    });
  const stop = (worker: Worker): Promise<void> =>
    new Promise((resolve) => {
      worker.on('message', (message: { drained?: { graceful: number; destroyed: number } }) => {
        if (!message.drained) return;
        console.log(`worker ${worker.process.pid} drained: ${JSON.stringify(message.drained)}`);
        worker.disconnect();
      });
      worker.once('exit', () => resolve());
      worker.send('drain');
    });

  let workers: Worker[] = [];
  let busy = false;
  void Promise.all(Array.from({ length: count }, start)).then((ws) => (workers = ws));

  process.on('SIGHUP', async () => {
    if (busy) return;
    busy = true;
    console.log('rolling restart');
    for (let i = 0; i < workers.length; i++) {
      // Start the replacement first, so there is always a worker accepting.
      const replacement = await start();
      await stop(workers[i]!);
      workers[i] = replacement;
    }
    console.log('rolling restart done');
    busy = false;
  });
  process.once('SIGTERM', async () => {
    console.log('stopping');
    await Promise.all(workers.map(stop));
    console.log('stopped');
    process.exit(0);
  });
}
