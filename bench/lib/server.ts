// One benchmark server per process: `--kind` picks what is measured.
//   bare-http                node:http, res.end('hello')
//   http-policy              the same handler wrapped by the policy: policy(req, res, () => …)
//   http-policy-attached     the same, with policy.attach(server)
//   express                  Express 5, res.send('hello')
//   express-passthrough      Express 5 with app.use((req, res, next) => next()) first: the calibration
//   express-passthrough-twin the same (a second process of it measures the method's own error)
//   express-policy           Express 5 with app.use(connectionPolicy()) first
//   express-policy-attached  the same, with policy.attach(server)
//   bare-http2               node:http2 (h2c), res.end('hello') through the compatibility API
//   bare-http2-twin          the same (a second process of it measures the method's own error)
//   http2-policy-attached    the same with policy.attach(server)
//   split-bare      node:http created with { noDelay: false }, response written in two pieces
//   split-policy    the same server with connectionPolicy() (noDelay: true by default)
// Prints `listening on http://127.0.0.1:PORT/`; `stats` on stdin prints the policy's stats.
import http from 'node:http';
import http2 from 'node:http2';
import type { Server as NetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import express from 'express';
// The package as users get it (the build, not the TypeScript sources through tsx,
// whose keepNames helper costs a defineProperty per closure per request).
import type * as Package from '../../src/index.js';

const { values } = parseArgs({
  options: {
    kind: { type: 'string', default: 'express-policy' },
    // Another build of the package (its dist/esm directory), to compare two versions side by side.
    dist: { type: 'string' },
  },
});
const dist = values.dist ?? fileURLToPath(new URL('../../dist/esm', import.meta.url));
const { connectionPolicy } = (await import(pathToFileURL(`${dist}/index.js`).href)) as typeof Package;
const policy = connectionPolicy();
let served = 0;
const HEAD = 'x'.repeat(100);
const REST = 'y'.repeat(200);

function split(req: http.IncomingMessage, res: http.ServerResponse): void {
  // Head and first chunk in one write, the rest in a second one a moment later:
  // any response streamed in pieces looks like this.
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.write(HEAD);
  setImmediate(() => res.end(REST));
}

/** Named: bench/profile.ts finds its samples by this name (the calibration row). */
function passThrough(req: http.IncomingMessage, res: http.ServerResponse, next: () => void): void {
  next();
}

let server: http.Server | http2.Http2Server;
switch (values.kind) {
  case 'bare-http':
    server = http.createServer((req, res) => res.end('hello'));
    break;
  case 'http-policy':
  case 'http-policy-attached':
    server = http.createServer((req, res) => policy(req, res, () => res.end('hello')));
    break;
  case 'express':
  case 'express-passthrough':
  case 'express-passthrough-twin':
  case 'express-policy':
  case 'express-policy-attached': {
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    if (values.kind.startsWith('express-passthrough')) app.use(passThrough);
    if (values.kind.startsWith('express-policy')) app.use(policy);
    app.all('/', (req, res) => void res.send('hello'));
    server = http.createServer(app);
    break;
  }
  case 'bare-http2':
  case 'bare-http2-twin':
  case 'http2-policy-attached':
    server = http2.createServer((req, res) => res.end('hello'));
    break;
  case 'split-bare':
    server = http.createServer({ noDelay: false }, split);
    break;
  case 'split-policy':
    server = http.createServer({ noDelay: false }, (req, res) => policy(req, res, () => split(req, res)));
    break;
  default:
    console.error(`unknown --kind ${values.kind}`);
    process.exit(2);
}
if (values.kind.endsWith('-attached') || values.kind === 'split-policy') policy.attach(server);
const listener: NetServer = server;
listener.listen(0, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${(listener.address() as AddressInfo).port}/`);
});
server.on('request', () => served++);
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'stats') return;
  const cpu = process.cpuUsage();
  console.log(JSON.stringify({ stats: policy.stats(), usage: { cpuMicros: cpu.user + cpu.system, served } }));
});
process.once('SIGTERM', () => process.exit(0));
