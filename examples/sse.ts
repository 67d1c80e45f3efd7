// Server-sent events that end cleanly in a drain, a few streams at a time.
//
//   node --import tsx examples/sse.ts [--port 3000] [--interval 100]
//        [--drain-delay 0] [--drain-spread 2000] [--drain-timeout 10000] [--ignore-signal]
//   curl -N http://127.0.0.1:3000/events
//
// GET /events streams `id: n` / `data: n` for n = 1, 2, 3, … one every --interval
// ms, after a `retry:` line; a client that reconnects with `Last-Event-ID: k` (every
// EventSource does) resumes at k + 1, on this instance or any other, so no event is
// lost across a restart. On SIGTERM the policy drains: /ready answers 503, and each
// stream's drain signal is aborted at its own moment within --drain-spread ms (from
// the end of --drain-delay): the handler ends the stream, and the client reconnects,
// through the load balancer, to an instance that is not draining.
// --ignore-signal leaves the signal unused, as an app without it would: the drain
// then waits until --drain-timeout and destroys every stream at the same instant.
import express from 'express';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { connectionPolicy } from '../src/index.js';
import { drainArgs, drainOnSigterm } from './drain-on-sigterm.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '3000' },
    interval: { type: 'string', default: '100' },
    ...drainArgs,
    'ignore-signal': { type: 'boolean', default: false },
  },
});
const interval = Number(values.interval);

const policy = connectionPolicy();
const app = express();
app.use(policy);
app.get('/ready', policy.readiness());
app.get('/events', (req, res) => {
  const last = Number(req.get('Last-Event-ID') ?? 0);
  let n = Number.isInteger(last) && last > 0 ? last : 0;
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
  // Reconnect after 100 ms, not the browser default of about 3 s.
  res.write('retry: 100\n\n');
  const timer = setInterval(() => res.write(`id: ${++n}\ndata: ${n}\n\n`), interval);
  // The client went away (or the stream ended): stop producing.
  req.on('close', () => clearInterval(timer));
  if (values['ignore-signal']) return;
  // The drain reached this stream: end it. The client reconnects on its own.
  policy.drainSignal(req).addEventListener('abort', () => {
    clearInterval(timer);
    res.end(': draining, reconnect elsewhere\n\n');
  });
});

const server = policy.attach(app.listen(Number(values.port), '127.0.0.1'));
server.on('listening', () => {
  console.log(`sse listening on http://127.0.0.1:${(server.address() as AddressInfo).port}/ (pid ${process.pid})`);
});

drainOnSigterm(policy, values);
