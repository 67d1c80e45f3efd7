import { expect } from 'chai';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { RawClient, get, request } from './helpers/raw.js';
import { nextRequest } from './helpers/wait.js';
import { closeServer, listen, routes, useTestServer, type TestServer } from './helpers/servers.js';
import { connectionPolicy } from '../src/index.js';

// SPEC §1: drain({ delay }) — the announce phase — policy.draining and policy.readiness().
describe('drain({ delay }), policy.draining and policy.readiness()', () => {
  const fx = useTestServer();
  let ts: TestServer;

  /** The test server, with the readiness route in front of the usual routes. */
  async function start(flavor: 'express5' | 'http', options = {}) {
    const policy = connectionPolicy(options);
    const ready = policy.readiness();
    ts = await fx.start(
      flavor,
      policy,
      (req, res) => {
        if (req.url === '/ready') ready(req, res);
        else if (req.url !== '/never') routes(req, res); // '/never' is never answered
      },
      { attach: true },
    );
    return ts;
  }

  it('readiness answers 200 ready, then 503 draining with Connection: close from the drain() call', async () => {
    await start('express5');
    expect(ts.policy.draining).to.equal(false);
    const c = await fx.send(get('/ready'));
    const ready = await c.response();
    expect([ready.status, ready.body, ready.header('connection')]).to.deep.equal([200, 'ready', 'keep-alive']);
    expect(ready.header('cache-control')).to.equal('no-store');
    const drained = ts.policy.drain({ delay: 300 });
    expect(ts.policy.draining).to.equal(true);
    c.write(get('/ready'));
    const draining = await c.response();
    expect([draining.status, draining.body, draining.header('connection')]).to.deep.equal([503, 'draining', 'close']);
    expect((await c.closed(1000)).kind).to.equal('fin');
    await drained;
  });

  it('says Connection: close itself where nothing else would (a server the policy never saw)', async () => {
    const policy = connectionPolicy();
    const server = http.createServer(policy.readiness());
    const port = await listen(server);
    const c = await RawClient.connect(port);
    try {
      c.write(get('/ready'));
      const ready = await c.response();
      expect([ready.status, ready.header('content-type')]).to.deep.equal([200, 'text/plain; charset=utf-8']);
      expect(ready.header('connection')).to.equal('keep-alive');
      await policy.drain();
      c.write(get('/ready'));
      const draining = await c.response();
      expect([draining.status, draining.body, draining.header('connection')]).to.deep.equal([503, 'draining', 'close']);
      expect((await c.closed(1000)).kind).to.equal('fin');
    } finally {
      c.destroy();
      await closeServer(server);
    }
  });

  it('on HTTP/2 answers 503 draining with no Connection field (RFC 9113 §8.2.2): the session gets the GOAWAY', async () => {
    const policy = connectionPolicy();
    const server = policy.attach(http2.createServer(policy.readiness()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    session.on('error', () => {});
    // Node drops a Connection field set on an HTTP/2 response, with an UnsupportedWarning.
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const ask = () =>
      new Promise<[number, string | undefined, string]>((resolve, reject) => {
        const req = session.request({ ':path': '/ready' });
        let body = '';
        let head: http2.IncomingHttpHeaders = {};
        req.on('response', (h) => (head = h));
        req.setEncoding('utf8');
        req.on('data', (d: string) => (body += d));
        req.on('end', () => resolve([Number(head[':status']), head.connection, body]));
        req.on('error', reject);
        req.end();
      });
    try {
      expect(await ask()).to.deep.equal([200, undefined, 'ready']);
      const drained = policy.drain({ delay: 300, timeout: 2000 });
      expect(await ask()).to.deep.equal([503, undefined, 'draining']);
      session.close();
      await drained;
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings).to.not.include('UnsupportedWarning');
    } finally {
      process.off('warning', onWarning);
      session.destroy();
      if (server.listening) await new Promise((resolve) => server.close(resolve));
    }
  });

  it('answers HEAD with the status and no body, on a plain node:http server too', async () => {
    await start('http');
    const c = await fx.send(request('HEAD', '/ready', 'HTTP/1.1'));
    const res = await c.response({ head: true });
    expect(res.status).to.equal(200);
    expect(res.header('content-length')).to.equal('5');
    expect(res.body).to.equal('');
    void ts.policy.drain({ delay: 200 });
    const d = await fx.send(request('HEAD', '/ready', 'HTTP/1.1'));
    const draining = await d.response({ head: true });
    expect(draining.status).to.equal(503);
    expect(draining.body).to.equal('');
  });

  it('works as an Express route handler', async () => {
    const policy = connectionPolicy();
    const app = express();
    app.use(policy);
    app.get('/ready', policy.readiness());
    const server = policy.attach(http.createServer(app));
    const port = await listen(server);
    try {
      const c = await RawClient.send(port, get('/ready'));
      expect((await c.response()).body).to.equal('ready');
      c.destroy();
    } finally {
      await closeServer(server);
    }
  });

  it('during delay: keeps accepting and serving, every response closes; then stops accepting and drains', async () => {
    await start('express5');
    const idle = await fx.send(get('/'));
    await idle.response();
    const other = await fx.send(get('/'));
    await other.response();
    const delay = 400;
    const started = Date.now();
    const drained = ts.policy.drain({ delay, timeout: 2000 });
    // A new connection during the delay is accepted and answered — with close.
    const fresh = await fx.send(get('/'));
    const res = await fresh.response();
    expect(res.status).to.equal(200);
    expect(res.header('connection')).to.equal('close');
    expect(res.count('keep-alive')).to.equal(0);
    expect((await fresh.closed(1000)).kind).to.equal('fin');
    // A kept-alive connection is still open during the delay, and its next request closes it.
    expect((await idle.closed(100)).kind).to.equal('open');
    idle.write(get('/'));
    const next = await idle.response();
    expect([next.status, next.header('connection')]).to.deep.equal([200, 'close']);
    expect((await idle.closed(1000)).kind).to.equal('fin');
    expect(ts.server.listening).to.equal(true);
    const result = await drained;
    const elapsed = Date.now() - started;
    expect(elapsed).to.be.within(delay * 0.8, delay * 2 + 500);
    expect(ts.server.listening).to.equal(false);
    // The one left idle through the delay is ended by the drain itself.
    expect((await other.closed(1000)).kind).to.equal('fin');
    expect(result).to.deep.equal({ graceful: 3, destroyed: 0 });
  });

  it('counts timeout from the end of delay', async () => {
    await start('express5');
    const reached = nextRequest(ts.server);
    const stuck = await fx.send(get('/never'));
    await reached;
    const started = Date.now();
    const result = await ts.policy.drain({ delay: 300, timeout: 300 });
    const elapsed = Date.now() - started;
    expect(result).to.deep.equal({ graceful: 0, destroyed: 1 });
    // delay + timeout, not timeout alone.
    expect(elapsed).to.be.within(600 * 0.8, 600 * 2);
    expect((await stuck.closed(500)).kind).to.not.equal('open');
  });
});
