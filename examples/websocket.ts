// WebSockets (the `ws` package) that close with 1001 "going away" in a drain, a few
// at a time, instead of being reset all at once at the drain's deadline.
//
//   node --import tsx examples/websocket.ts [--port 3000]
//        [--drain-delay 0] [--drain-spread 2000] [--drain-timeout 10000] [--ignore-signal]
//
// ws://…/echo echoes every message. The policy is attached to the server, so an
// upgraded connection stays tracked until it closes (in `stats().open`), and the
// `req` of the 'upgrade' event has a drain signal. On SIGTERM the policy drains:
// /ready answers 503, and each socket's signal is aborted at its own moment within
// --drain-spread ms: the handler closes it with 1001, and the client reconnects,
// through the load balancer, to an instance that is not draining.
// --ignore-signal leaves the signal unused: the drain then waits until
// --drain-timeout and destroys every socket at once (the clients see 1006).
import express from 'express';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';
import { connectionPolicy } from '../src/index.js';
import { drainArgs, drainOnSigterm } from './drain-on-sigterm.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '3000' },
    ...drainArgs,
    'ignore-signal': { type: 'boolean', default: false },
  },
});

const policy = connectionPolicy();
const app = express();
app.use(policy);
app.get('/ready', policy.readiness());

const server = policy.attach(app.listen(Number(values.port), '127.0.0.1'));
const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, socket, head) => {
  if (req.url !== '/echo') {
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  // Asked before the handshake: the signal belongs to the request, and the
  // connection stays the drain's to wait for until it closes.
  const signal = values['ignore-signal'] ? undefined : policy.drainSignal(req);
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    if (signal === undefined) return;
    const goAway = () => ws.close(1001, 'server draining');
    if (signal.aborted) goAway();
    else signal.addEventListener('abort', goAway, { once: true });
  });
});
server.on('listening', () => {
  console.log(`websocket listening on http://127.0.0.1:${(server.address() as AddressInfo).port}/ (pid ${process.pid})`);
});

drainOnSigterm(policy, values);
