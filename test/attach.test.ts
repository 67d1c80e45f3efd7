import { expect } from 'chai';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import express from 'express';
import sinon from 'sinon';
import { RawClient, get } from './helpers/raw.js';
import { closeServer, listen } from './helpers/servers.js';
import { eventually } from './helpers/wait.js';
import { connectionInfo, connectionPolicy } from '../src/index.js';
import { TLS as TLS_OPTIONS } from './helpers/tls.js';

describe('policy.attach(server)', () => {
  // Everything a test opens is closed after it, whether it passed or not (a failed
  // assertion must not leave a listening server that keeps mocha from exiting).
  const servers: net.Server[] = [];
  const sockets: Array<{ destroy(): unknown }> = [];
  afterEach(async () => {
    sinon.restore();
    for (const s of sockets.splice(0)) s.destroy();
    for (const s of servers.splice(0)) if (s.listening) await closeServer(s as http.Server);
  });
  async function serve(server: http.Server): Promise<number> {
    servers.push(server);
    return listen(server);
  }
  async function send(port: number, payload: string): Promise<RawClient> {
    const c = await RawClient.send(port, payload);
    sockets.push(c);
    return c;
  }

  it('returns the server, and a second call changes nothing', async () => {
    const policy = connectionPolicy({ idleTimeout: 10_000 });
    const server = http.createServer((req, res) => policy(req, res, () => res.end('x')));
    expect(policy.attach(server)).to.equal(server);
    const listeners = server.listenerCount('connection');
    expect(policy.attach(server)).to.equal(server);
    expect(server.listenerCount('connection')).to.equal(listeners);
    const port = await serve(server);
    const c = await send(port, get('/'));
    await c.response();
    expect(policy.stats()).to.include({ accepted: 1, requests: 1 });
  });

  it("leaves a response the middleware never saw to Node: Node's own hint, not the one set at arrival", async () => {
    // Every request of an attached server is admitted (and its hint fields set for
    // Node to write) before any handler; rule 6 gives a response written without
    // the middleware back to Node, with the server's own fields.
    const policy = connectionPolicy({ maxRequests: 5 });
    const server = policy.attach(http.createServer((req, res) => res.end('not through the policy')));
    const port = await serve(server);
    const c = await send(port, get('/'));
    const res = await c.response();
    expect(res.body).to.equal('not through the policy');
    expect(res.header('connection')).to.equal('keep-alive');
    expect(res.header('keep-alive')).to.equal(`timeout=${Math.floor(server.keepAliveTimeout / 1000)}`);
  });

  it('closes a response the middleware never saw when a request pipelined behind it was refused for a close', async () => {
    // maxRequests: 1 decides the close when the first request arrives, so the
    // second, pipelined behind it, is refused at the middleware (rule 7). The first
    // is answered by a route before the middleware (rule 6): left to Node, it would
    // keep the connection open with the second never answered.
    const policy = connectionPolicy({ maxRequests: 1 });
    const app = express();
    app.get('/health', (req, res) => void setTimeout(() => res.send('up'), 30));
    app.use(policy);
    const handled: string[] = [];
    app.use((req, res) => (handled.push(req.url), res.send('api')));
    const port = await serve(policy.attach(http.createServer(app)));
    const c = await send(port, get('/health') + get('/api'));
    const res = await c.response();
    expect([res.body, res.header('connection')]).to.deep.equal(['up', 'close']);
    expect((await c.closed(2000)).kind).to.equal('fin');
    expect(handled).to.deep.equal([]);
    expect(policy.stats().closed.maxRequests).to.equal(1);
  });

  it("rule 6 on an attached server: a route before the middleware gets Node's head, whatever the policy says", async () => {
    // The listener admits /early before any route, and policy 'close' is certain
    // at arrival; the route answers before the middleware. SPEC rule 6: nothing is
    // added (no Connection, no id) and nothing is closed on its account.
    const policy = connectionPolicy({ policy: 'close', exposeConnectionId: true });
    const app = express();
    app.get('/early', (req, res) => void res.send('early'));
    app.use(policy);
    app.use((req, res) => void res.send('late'));
    const port = await serve(policy.attach(http.createServer(app)));
    const c = await send(port, get('/early'));
    const early = await c.response();
    expect([early.body, early.header('connection'), early.header('x-connection-id')]).to.deep.equal([
      'early',
      'keep-alive',
      undefined,
    ]);
    c.write(get('/late'));
    const late = await c.response();
    expect([late.body, late.header('connection')]).to.deep.equal(['late', 'close']);
    expect(late.header('x-connection-id')).to.match(/^\d+;req=2$/);
    expect((await c.closed(2000)).kind).to.equal('fin');
    expect(policy.stats().closed.policy).to.equal(1);
  });

  it('rule 6 with attach() alone (a framework without its adapter): every response is left to Node, the last as the first', async () => {
    const policy = connectionPolicy({ maxRequests: 2, exposeConnectionId: true });
    const server = policy.attach(http.createServer((req, res) => res.end('plain')));
    const port = await serve(server);
    const c = await send(port, get('/1'));
    const heads: Array<[string | undefined, string | undefined, string | undefined]> = [];
    for (let i = 2; i <= 4; i++) {
      const res = await c.response();
      heads.push([res.header('connection'), res.header('keep-alive'), res.header('x-connection-id')]);
      c.write(get(`/${i}`));
    }
    const nodeHead = ['keep-alive', `timeout=${Math.floor(server.keepAliveTimeout / 1000)}`, undefined];
    expect(heads).to.deep.equal([nodeHead, nodeHead, nodeHead]);
    await c.response();
    expect(policy.stats()).to.include({ requests: 4, open: 1 });
  });

  it("rule 6 judges each request by its own passage: one that never reaches the middleware gets Node's head, though a request before it did", async () => {
    // /api waits in an async middleware before the policy, /health (pipelined behind
    // it) is answered by a route before the policy after /api has passed it.
    const policy = connectionPolicy({ maxRequests: 5, exposeConnectionId: true });
    const app = express();
    app.use((req, res, next) => void (req.url === '/api' ? setTimeout(next, 20) : next()));
    app.get('/health', (req, res) => void setTimeout(() => res.send('up'), 80));
    app.use(policy);
    app.use((req, res) => void res.send('api'));
    const server = policy.attach(http.createServer(app));
    const c = await send(await serve(server), get('/api') + get('/health'));
    const api = await c.response();
    const health = await c.response();
    expect([api.body, api.header('keep-alive')]).to.deep.equal(['api', 'timeout=64, max=4']);
    expect(api.header('x-connection-id')).to.match(/;req=1$/);
    expect([
      health.body,
      health.header('connection'),
      health.header('keep-alive'),
      health.header('x-connection-id'),
    ]).to.deep.equal(['up', 'keep-alive', `timeout=${Math.floor(server.keepAliveTimeout / 1000)}`, undefined]);
  });

  it("rule 6 gives back a close only for its own request: Node's head for an earlier one leaves a later request's close standing", async () => {
    // /health (1) is answered by a route before the middleware, /api (2) reaches the
    // limit of maxRequests: 2 when it arrives. /c, sent once /health's answer is in,
    // comes while /api's close is pending: it is not handled, and /api closes.
    const policy = connectionPolicy({ maxRequests: 2 });
    const app = express();
    app.get('/health', (req, res) => void setTimeout(() => res.send('up'), 40));
    app.use(policy);
    const handled: string[] = [];
    app.use((req, res) => {
      handled.push(req.url);
      setTimeout(() => res.send('api'), 200);
    });
    const c = await send(await serve(policy.attach(http.createServer(app))), get('/health') + get('/api'));
    const health = await c.response();
    c.write(get('/c'));
    const api = await c.response();
    // Node's own head for /health (no max=), though /api, behind it, reached the middleware first.
    expect([health.body, health.header('connection'), health.header('keep-alive')]).to.deep.equal([
      'up',
      'keep-alive',
      'timeout=64',
    ]);
    expect([api.body, api.header('connection')]).to.deep.equal(['api', 'close']);
    expect((await c.closed(2000)).kind).to.equal('fin');
    expect(handled).to.deep.equal(['/api']);
  });

  it('rule 6: a head an earlier middleware already wrote is left alone, and the request is not the policy’s', async () => {
    const policy = connectionPolicy({ policy: 'close', exposeConnectionId: true });
    const app = express();
    app.use((req, res, next) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('early ');
      next();
    });
    app.use(policy);
    const infos: unknown[] = [];
    app.use((req, res) => {
      infos.push(connectionInfo(req));
      res.end('late');
    });
    const c = await send(await serve(http.createServer(app)), get('/'));
    const res = await c.response();
    expect([res.body, res.header('connection'), res.header('x-connection-id')]).to.deep.equal([
      'early late',
      'keep-alive',
      undefined,
    ]);
    expect(infos).to.deep.equal([undefined]);
    expect(policy.stats()).to.include({ requests: 0, accepted: 0 });
    expect((await c.closed(200)).kind).to.equal('open');
  });

  it('aligns keepAliveTimeout and keeps headersTimeout ≤ requestTimeout', () => {
    const server = http.createServer();
    server.requestTimeout = 20_000;
    server.headersTimeout = 30_000; // Node would silently swap these
    connectionPolicy({ idleTimeout: 5000 }).attach(server);
    expect(server.keepAliveTimeout).to.equal(4000);
    expect(server.headersTimeout).to.equal(20_000);
    const tiny = http.createServer();
    connectionPolicy({ idleTimeout: 300 }).attach(tiny);
    // Never 0, which would switch Node's idle timer off.
    expect(tiny.keepAliveTimeout).to.equal(1);
  });

  it('with noDelay: false, leaves Nagle as the server has it', async () => {
    const noDelay = sinon.spy(net.Socket.prototype, 'setNoDelay');
    const policy = connectionPolicy({ noDelay: false });
    const server = policy.attach(http.createServer({ noDelay: false }, (req, res) => res.end('ok')));
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const port = await serve(server);
    const c = await send(port, get('/'));
    await c.response();
    const socket = await accepted;
    expect(noDelay.calledOn(socket) && noDelay.calledWith(true), 'setNoDelay(true) on the socket').to.equal(false);
  });

  it('applies noDelay and tcpKeepAlive at accept, before any request', async () => {
    const noDelay = sinon.spy(net.Socket.prototype, 'setNoDelay');
    const keepAlive = sinon.spy(net.Socket.prototype, 'setKeepAlive');
    const policy = connectionPolicy({ tcpKeepAlive: 30_000 });
    // A server that asked for Nagle: the policy turns it off per connection.
    const server = policy.attach(http.createServer({ noDelay: false }, (req, res) => res.end()));
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const port = await serve(server);
    sockets.push(await RawClient.connect(port));
    const socket = await accepted;
    await new Promise((r) => setImmediate(r));
    expect(noDelay.calledOn(socket) && noDelay.calledWith(true)).to.equal(true);
    expect(keepAlive.calledOn(socket) && keepAlive.calledWith(true, 30_000)).to.equal(true);
  });

  it('never turns Nagle back on with noDelay: false', async () => {
    const noDelay = sinon.spy(net.Socket.prototype, 'setNoDelay');
    const policy = connectionPolicy({ noDelay: false });
    const server = policy.attach(http.createServer((req, res) => policy(req, res, () => res.end('x'))));
    const port = await serve(server);
    const c = await send(port, get('/'));
    await c.response();
    expect(noDelay.calledWith(false)).to.equal(false);
  });

  it('two policies on one server each count every request; the second middleware is never confused by the first one’s info', async () => {
    // connectionInfo(req) is set by whichever policy admitted the request first: a
    // middleware whose own policy does not track that socket admits the request itself.
    const outer = connectionPolicy({ maxRequests: 10 });
    const inner = connectionPolicy({ maxRequests: 10 });
    const server = outer.attach(http.createServer((req, res) => inner(req, res, () => res.end('x'))));
    const port = await serve(server);
    const c = await send(port, get('/') + get('/'));
    const first = await c.response();
    const second = await c.response();
    expect([first.status, second.status, first.body, second.body]).to.deep.equal([200, 200, 'x', 'x']);
    expect(outer.stats()).to.include({ accepted: 1, requests: 2 });
    expect(inner.stats()).to.include({ accepted: 1, requests: 2 });
  });

  it('tracks HTTPS connections (the TLS socket), and one policy serves two servers', async () => {
    const policy = connectionPolicy({ exposeConnectionId: true });
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => policy(req, res, () => res.end('x'));
    const secure = policy.attach(https.createServer(TLS_OPTIONS, handler));
    const plain = policy.attach(http.createServer(handler));
    const [securePort, plainPort] = await Promise.all([serve(secure), serve(plain)]);

    const tlsSocket = tls.connect({ port: securePort, host: '127.0.0.1', rejectUnauthorized: false });
    sockets.push(tlsSocket);
    await new Promise((r) => tlsSocket.once('secureConnect', r));
    let buf = '';
    tlsSocket.on('data', (d) => (buf += d));
    tlsSocket.write(get('/') + get('/'));
    await eventually(() => (buf.match(/\r\n\r\nx/g) ?? []).length === 2, 'both responses over TLS');
    expect(buf.match(/x-connection-id: (\d+);req=2/)).to.not.equal(null);

    const c = await send(plainPort, get('/'));
    await c.response();
    expect(policy.stats()).to.include({ accepted: 2, requests: 3, reusedRequests: 1, open: 2 });
    const drained = await policy.drain();
    expect(drained).to.deep.equal({ graceful: 2, destroyed: 0 });
    expect(secure.listening || plain.listening).to.equal(false);
  });
});
