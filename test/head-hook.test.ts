import { expect } from 'chai';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import http from 'node:http';
import express from 'express';
import onHeaders from 'on-headers';
import { RawClient, get } from './helpers/raw.js';
import { closeServer, listen, useTestServer } from './helpers/servers.js';
import { DECISION_CHANNEL, connectionPolicy } from '../src/index.js';

// The policy looks last just before the head is built: through its own shared
// writeHead hook, or through on-headers where another wrapper came first. Headers
// passed to writeHead itself, in each of the shapes Node takes, count as set.
describe('the head-time hook', () => {
  const fx = useTestServer();

  // Each with a status of its own: the head must keep the status it was given.
  const shapes: Array<[string, string, (res: http.ServerResponse) => void]> = [
    ['an object', 'HTTP/1.1 404 Not Found', (res) => res.writeHead(404, { 'Content-Length': '2', Connection: 'close' })],
    [
      'an object after a reason phrase',
      'HTTP/1.1 503 Later',
      (res) => res.writeHead(503, 'Later', { 'content-length': '2', connection: 'close' }),
    ],
    [
      'a flat array',
      'HTTP/1.1 500 Internal Server Error',
      (res) => res.writeHead(500, ['Content-Length', '2', 'Connection', 'close']),
    ],
    [
      'an array of pairs',
      'HTTP/1.1 201 Created',
      (res) =>
        res.writeHead(201, [
          ['Content-Length', '2'],
          ['CONNECTION', 'close'],
        ] as never),
    ],
  ];
  for (const [label, statusLine, write] of shapes) {
    it(`sees a Connection: close passed to writeHead as ${label}: its status, one Connection header, no hint, a FIN`, async () => {
      const ts = await fx.start('http', {}, (req, res) => {
        write(res);
        res.end('ok');
      });
      const c = await fx.send(get('/'));
      const res = await c.response();
      expect(res.statusLine).to.equal(statusLine);
      expect(res.body).to.equal('ok');
      expect(res.count('connection')).to.equal(1);
      expect(res.header('connection')).to.equal('close');
      expect(res.count('keep-alive')).to.equal(0);
      expect((await c.closed(2000)).kind).to.equal('fin');
      expect(ts.policy.stats().closed.policy).to.equal(1);
    });
  }

  for (const [label, headers] of [
    ['an object', { 'Content-Length': '2', 'Keep-Alive': 'timeout=999' }],
    ['a flat array', ['Content-Length', '2', 'keep-alive', 'timeout=999, max=5']],
    ['an object with Connection: keep-alive', { 'Content-Length': '2', Connection: 'keep-alive', 'Keep-Alive': 'timeout=1' }],
  ] as const) {
    it(`replaces a handler's Keep-Alive passed to writeHead as ${label} with the policy's: exactly one hint`, async () => {
      await fx.start('http', {}, (req, res) => {
        res.writeHead(404, headers as never);
        res.end('no');
      });
      const c = await fx.send(get('/'));
      const res = await c.response();
      expect(res.statusLine).to.equal('HTTP/1.1 404 Not Found');
      expect(res.count('connection')).to.equal(1);
      expect(res.header('connection')).to.equal('keep-alive');
      expect(res.count('keep-alive')).to.equal(1);
      expect(res.header('keep-alive')).to.equal('timeout=64');
      expect((await c.closed(300)).kind).to.equal('open');
    });
  }

  // What Node does with headers passed to writeHead beside ones set before: they take
  // precedence; a name repeated in a flat array is a repeated field.
  for (const [label, headers, expected] of [
    ['an object', { 'X-A': 'new', Connection: 'close', 'Content-Length': '2' }, ['new']],
    ['a flat array', ['X-A', 'new1', 'Connection', 'close', 'X-A', 'new2', 'Content-Length', '2'], ['new1', 'new2']],
    [
      'an array of pairs',
      [
        ['X-A', 'new'],
        ['Connection', 'close'],
        ['Content-Length', '2'],
      ],
      ['new'],
    ],
  ] as const) {
    it(`with a Connection passed as ${label}, the other headers passed still replace those set before`, async () => {
      await fx.start('http', {}, (req, res) => {
        res.setHeader('X-A', 'old');
        res.writeHead(200, headers as never);
        res.end('ok');
      });
      const c = await fx.send(get('/'));
      const res = await c.response();
      expect(res.headers['x-a']).to.deep.equal(expected);
      expect(res.header('connection')).to.equal('close');
    });
  }

  it('takes its decision once: a second writeHead throws as Node does, and nothing is published twice', async () => {
    const published: unknown[] = [];
    const onDecision = (message: unknown) => published.push(message);
    subscribe(DECISION_CHANNEL, onDecision);
    try {
      let second: unknown;
      await fx.start('http', {}, (req, res) => {
        res.writeHead(200, { 'Content-Length': '2' });
        try {
          res.writeHead(500);
        } catch (err) {
          second = err;
        }
        res.end('ok');
      });
      const c = await fx.send(get('/'));
      expect((await c.response()).status).to.equal(200);
      expect((second as { code?: string }).code).to.equal('ERR_HTTP_HEADERS_SENT');
      expect(published).to.have.length(1);
    } finally {
      unsubscribe(DECISION_CHANNEL, onDecision);
    }
  });

  it('rejects an undefined header value beside a Connection passed to writeHead, as Node does', async () => {
    // Node 20–26: writeHead(status, { name: undefined }) throws ERR_HTTP_INVALID_HEADER_VALUE;
    // the handler here answers 500 instead.
    const thrown: unknown[] = [];
    await fx.start('http', {}, (req, res) => {
      try {
        res.writeHead(200, { Connection: 'close', 'X-Undefined': undefined });
        res.end('ok');
      } catch (err) {
        thrown.push(err);
        res.statusCode = 500;
        res.end();
      }
    });
    const c = await fx.send(get('/'));
    expect((await c.response()).status).to.equal(500);
    expect(thrown.map((e) => (e as { code?: string }).code)).to.deep.equal(['ERR_HTTP_INVALID_HEADER_VALUE']);
  });

  it('passes other headers given to writeHead through untouched, and keeps the connection alive', async () => {
    await fx.start('http', {}, (req, res) => {
      res.writeHead(201, 'Made', { 'X-One': '1', 'Content-Length': '2' });
      res.end('ok');
    });
    const c = await fx.send(get('/'));
    const res = await c.response();
    expect(res.statusLine).to.equal('HTTP/1.1 201 Made');
    expect(res.header('x-one')).to.equal('1');
    expect(res.header('connection')).to.equal('keep-alive');
    expect(res.header('keep-alive')).to.equal('timeout=64');
  });

  it('chains through on-headers when another middleware wrapped writeHead first (the first request of a server)', async () => {
    const policy = connectionPolicy({ exposeConnectionId: true });
    const app = express();
    let theirs = 0;
    app.use((req, res, next) => {
      onHeaders(res, function () {
        theirs++;
        this.setHeader('X-Theirs', 'yes');
      });
      next();
    });
    app.use(policy);
    app.get('/', (req, res) => void res.send('ok'));
    const server = http.createServer(app);
    const port = await listen(server);
    try {
      // The server's first request is the middleware's: writeHead is already wrapped.
      const first = await RawClient.send(port, get('/', 'Connection: close'));
      const closing = await first.response();
      expect(closing.header('connection')).to.equal('close');
      expect(closing.header('x-theirs')).to.equal('yes');
      expect(closing.header('x-connection-id')).to.match(/;req=1$/);
      expect((await first.closed(2000)).kind).to.equal('fin');
      // Later ones are admitted by the listener, before that middleware wraps.
      const second = await RawClient.send(port, get('/'));
      const kept = await second.response();
      expect(kept.header('connection')).to.equal('keep-alive');
      expect(kept.header('keep-alive')).to.equal('timeout=64');
      expect(kept.header('x-theirs')).to.equal('yes');
      second.destroy();
      expect(theirs).to.equal(2);
    } finally {
      await closeServer(server);
    }
  });
});
