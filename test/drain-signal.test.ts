import { expect } from 'chai';
import sinon from 'sinon';
import type { IncomingMessage } from 'node:http';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { connectionPolicy } from '../src/index.js';
import { RawClient, get } from './helpers/raw.js';
import { listen, closeServer, routes, useTestServer, type Flavor, type Handler, type TestServer } from './helpers/servers.js';
import { UPGRADE, acceptUpgrades } from './helpers/upgrade.js';
import { eventually } from './helpers/wait.js';

// SPEC §1, "Long-lived requests in a drain": policy.drainSignal(req), drain({ spread }),
// upgraded connections tracked until they close.

interface Abort {
  afterMs: number;
  reason: unknown;
}

describe('drainSignal(req)', () => {
  const fx = useTestServer();
  let ts: TestServer;
  let drainCalledAt = 0;
  const aborts: Abort[] = [];
  beforeEach(() => {
    aborts.length = 0;
    drainCalledAt = 0;
  });
  afterEach(() => sinon.restore());

  /** A stream (server-sent events) that ends on its drain signal, or ignores it under /ignore. */
  const stream: Handler = (req, res) => {
    if (!req.url?.startsWith('/sse') && !req.url?.startsWith('/ignore')) return routes(req, res);
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.write('data: 1\n\n');
    const signal = ts.policy.drainSignal(req);
    if (req.url.startsWith('/ignore')) return;
    const onAbort = () => {
      aborts.push({ afterMs: Date.now() - drainCalledAt, reason: signal.reason });
      res.end('data: bye\n\n');
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  };

  const setups: Array<[label: string, flavor: Flavor, attach: boolean]> = [
    ['Express 5, attached', 'express5', true],
    ['Express 4, middleware only', 'express4', false],
    ['node:http, middleware only', 'http', false],
  ];
  for (const [label, flavor, attach] of setups) {
    it(`${label}: aborted at the end of delay with code CONNECTION_POLICY_DRAIN; the stream ends and the drain counts it graceful`, async () => {
      ts = await fx.start(flavor, {}, stream, { attach });
      const client = await fx.send(get('/sse'));
      const head = await client.response({ head: true });
      expect(head.status).to.equal(200);
      drainCalledAt = Date.now();
      const drained = ts.policy.drain({ delay: 300, timeout: 5000 });
      await new Promise((r) => setTimeout(r, 150));
      expect(aborts, 'aborted during the announce phase').to.deep.equal([]);
      expect(await drained).to.deep.equal({ graceful: 1, destroyed: 0 });
      expect(aborts).to.have.length(1);
      expect(aborts[0]!.afterMs).to.be.within(240, 600);
      const reason = aborts[0]!.reason as Error & { code?: string };
      expect(reason).to.be.instanceOf(Error);
      expect(reason.code).to.equal('CONNECTION_POLICY_DRAIN');
      // The stream ended cleanly (its last chunk, then a FIN), never a reset.
      expect((await client.closed(2000)).kind).to.equal('fin');
      expect(client.rest)
        .to.include('data: bye')
        .and.to.match(/0\r\n\r\n$/);
      expect(ts.policy.stats().closed.drain).to.equal(1);
    });
  }

  it('drain({ spread }): n signals aborted at stratified moments, the k-th no earlier than (k − 1) × spread / n', async () => {
    ts = await fx.start('express5', {}, stream, { attach: true });
    const [n, spread] = [8, 800];
    const clients = await Promise.all(Array.from({ length: n }, () => fx.send(get('/sse'))));
    await Promise.all(clients.map((c) => c.response({ head: true })));
    drainCalledAt = Date.now();
    expect(await ts.policy.drain({ spread, timeout: 5000 })).to.deep.equal({ graceful: n, destroyed: 0 });
    const moments = aborts.map((a) => a.afterMs).sort((a, b) => a - b);
    expect(moments).to.have.length(n);
    // One moment drawn in each of n equal slices of the window. A timer fires late,
    // never early, so the lower bounds are tight; the upper one is generous.
    moments.forEach((t, k) =>
      expect(t, `abort ${k + 1} of ${n}: ${moments.join(', ')} ms`).to.be.at.least((k * spread) / n - 20),
    );
    expect(moments[n - 1]).to.be.at.most(2 * spread);
  });

  it('is the same signal for the same request, and not aborted before a drain', async () => {
    const seen: AbortSignal[] = [];
    ts = await fx.start('express5', {}, (req, res) => {
      seen.push(ts.policy.drainSignal(req), ts.policy.drainSignal(req));
      res.end('ok');
    });
    const client = await fx.send(get('/'));
    await client.response();
    expect(seen).to.have.length(2);
    expect(seen[0]).to.equal(seen[1]);
    expect(seen[0]!.aborted).to.equal(false);
  });

  it('is returned aborted when asked for during a drain past its moment', async () => {
    let askedAborted: boolean | undefined;
    ts = await fx.start(
      'express5',
      {},
      (req, res) => {
        askedAborted = ts.policy.drainSignal(req).aborted;
        res.end('ok');
      },
      { attach: true },
    );
    // An idle keep-alive connection, kept through the drain's idle grace.
    const idle = await fx.send(get('/'));
    await idle.response();
    expect(askedAborted).to.equal(false);
    const drained = ts.policy.drain({ idleGrace: 1000, timeout: 3000 });
    idle.write(get('/again'));
    const res = await idle.response();
    expect(res.header('connection')).to.equal('close');
    expect(askedAborted).to.equal(true);
    expect(await drained).to.deep.equal({ graceful: 1, destroyed: 0 });
  });

  it('asked for during a drain, gets a moment of its own within spread, not the moment the drain began', async () => {
    let signal: AbortSignal | undefined;
    ts = await fx.start(
      'express5',
      {},
      (req, res) => {
        signal = ts.policy.drainSignal(req);
        res.write('streaming');
      },
      { attach: true },
    );
    // Connected before the drain, kept through its idle grace; its request comes after.
    const late = await fx.connect();
    const drained = ts.policy.drain({ idleGrace: 1000, spread: 2 ** 31 - 1, timeout: Infinity });
    late.write(get('/late'));
    await eventually(() => signal !== undefined && late.rest.includes('streaming'), 'the late stream started');
    // Its moment is drawn within a window of 2^31 − 1 ms from the drain's start.
    expect(signal!.aborted).to.equal(false);
    late.destroy();
    expect(await drained).to.deep.equal({ graceful: 1, destroyed: 0 });
  });

  it("asked for during a drain, its moment is drawn from the drain's start: within spread ≤ timeout, so it ends gracefully", async () => {
    // The moment is the drain's start + 0.9 × spread (900 ms); drawn from the
    // moment of asking (500 ms in) it would be 1,400 ms, past the 1,000 ms deadline.
    sinon.stub(Math, 'random').returns(0.9);
    let abortedAfter: number | undefined;
    ts = await fx.start(
      'express5',
      {},
      (req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.write('data: 1\n\n');
        ts.policy.drainSignal(req).addEventListener('abort', () => {
          abortedAfter = Date.now() - drainCalledAt;
          res.end('data: last\n\n');
        });
      },
      { attach: true },
    );
    const c = await fx.connect();
    drainCalledAt = Date.now();
    const drained = ts.policy.drain({ idleGrace: 800, spread: 1000, timeout: 1000 });
    await new Promise((r) => setTimeout(r, 500));
    c.write(get('/late'));
    expect(await drained).to.deep.equal({ graceful: 1, destroyed: 0 });
    expect(c.rest).to.include('data: last');
    expect(abortedAfter).to.be.within(900 * 0.8, 1000);
  });

  it('a handler that ends at once on its signal gets its last event to the client whole, then a FIN', async () => {
    // The signals are aborted after the drain's sweep of idle connections: a
    // response ended on abort is still being written (4 MiB here), and Node's own
    // sweep (closeIdleConnections) would take its connection for idle and destroy it.
    const last = `data: ${'x'.repeat(4 * 1024 * 1024)}\n\n`;
    ts = await fx.start(
      'express5',
      {},
      (req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.write('data: 1\n\n');
        ts.policy.drainSignal(req).addEventListener('abort', () => res.end(last));
      },
      { attach: true },
    );
    const c = await fx.send(get('/sse'));
    await c.response({ head: true });
    await eventually(() => c.rest.includes('data: 1'), 'the first event');
    expect(await ts.policy.drain({ timeout: 5000 })).to.deep.equal({ graceful: 1, destroyed: 0 });
    const closed = await c.closed(5000);
    expect(closed.kind).to.equal('fin');
    expect(c.rest.endsWith(`${last.length.toString(16)}\r\n${last}\r\n0\r\n\r\n`)).to.equal(true);
  });

  it('a handler that ignores its signal is destroyed at timeout and counted destroyed, never graceful', async () => {
    ts = await fx.start('express5', {}, stream, { attach: true });
    const client = await fx.send(get('/ignore'));
    await client.response({ head: true });
    const started = Date.now();
    expect(await ts.policy.drain({ timeout: 300 })).to.deep.equal({ graceful: 0, destroyed: 1 });
    expect(Date.now() - started).to.be.within(240, 600);
    expect((await client.closed(2000)).kind).to.not.equal('open');
    expect(ts.policy.stats().closed.drain).to.equal(1);
  });

  it('throws a TypeError for a request on a connection the policy does not track, and for what is not a request', async () => {
    const policy = connectionPolicy();
    const errors: unknown[] = [];
    const server = http.createServer((req, res) => {
      try {
        policy.drainSignal(req);
      } catch (err) {
        errors.push(err);
      }
      res.end('ok');
    });
    await listen(server);
    try {
      const client = await RawClient.send((server.address() as { port: number }).port, get('/'));
      await client.response();
      client.destroy();
    } finally {
      await closeServer(server);
    }
    expect(errors).to.have.length(1);
    expect(errors[0]).to.be.instanceOf(TypeError);
    expect((errors[0] as Error).message).to.match(/^drainSignal\(req\): this request is not on a connection this policy tracks/);
    expect(() => policy.drainSignal({} as IncomingMessage)).to.throw(TypeError, /not on a connection this policy tracks/);
    expect(() => policy.drainSignal(undefined as unknown as IncomingMessage)).to.throw(TypeError, /drainSignal/);
  });

  it('throws for a request whose connection has closed since: a closed connection is no longer tracked', async () => {
    let last: IncomingMessage | undefined;
    ts = await fx.start('express5', {}, (req, res) => ((last = req), res.end('ok')), { attach: true });
    const client = await fx.send(get('/'));
    await client.response();
    client.destroy();
    await eventually(() => ts.policy.stats().open === 0, 'the connection closed');
    expect(() => ts.policy.drainSignal(last!)).to.throw(TypeError, /not on a connection this policy tracks/);
  });

  it('a request that ended before the drain is not aborted, and does not hold the drain', async () => {
    const signals: AbortSignal[] = [];
    ts = await fx.start(
      'express5',
      {},
      (req, res) => {
        signals.push(ts.policy.drainSignal(req));
        res.end('ok');
      },
      { attach: true },
    );
    const client = await fx.send(get('/'));
    await client.response();
    // Its connection stays open through the idle grace: the request's end, not the connection's, counts.
    expect(await ts.policy.drain({ idleGrace: 200, timeout: 2000 })).to.deep.equal({ graceful: 1, destroyed: 0 });
    expect(signals[0]!.aborted).to.equal(false);
  });

  it('a request that ends within spread, before its moment, is not aborted at its moment', async () => {
    const signals = new Map<string, AbortSignal>();
    const responses = new Map<string, http.ServerResponse>();
    ts = await fx.start(
      'express5',
      {},
      (req, res) => {
        signals.set(req.url!, ts.policy.drainSignal(req));
        responses.set(req.url!, res);
        res.write('streaming');
      },
      { attach: true },
    );
    // /ignored never ends, so the drain lasts until timeout, past every moment in spread.
    // Signals are given their slices of spread in the order they were asked for: /ends
    // asks second, so its moment falls in the second half (150–300 ms), well after it ends.
    const ignored = await fx.send(get('/ignored'));
    await eventually(() => signals.has('/ignored'), 'the first stream started');
    const ends = await fx.send(get('/ends'));
    await eventually(() => signals.has('/ends'), 'the second stream started');
    const clients = [ignored, ends];
    const drained = ts.policy.drain({ spread: 300, timeout: 600 });
    responses.get('/ends')!.end();
    expect(await drained).to.deep.equal({ graceful: 1, destroyed: 1 });
    expect(signals.get('/ends')!.aborted).to.equal(false);
    expect(signals.get('/ignored')!.aborted).to.equal(true);
    for (const c of clients) c.destroy();
  });

  it('an HTTP/2 request that ended is not aborted by a drain while its session is open', async () => {
    const policy = connectionPolicy();
    const signals: AbortSignal[] = [];
    const server = policy.attach(
      http2.createServer((req, res) => {
        signals.push(policy.drainSignal(req));
        res.end('ok');
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    session.on('error', () => {});
    try {
      await new Promise((resolve) => session.request({ ':path': '/' }).resume().once('end', resolve));
      expect(session.closed).to.equal(false);
      await policy.drain({ timeout: 2000 });
      expect(signals).to.have.length(1);
      expect(signals[0]!.aborted).to.equal(false);
    } finally {
      session.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('upgraded connections on an attached server', () => {
  const fx = useTestServer();
  let ts: TestServer;

  it('stay tracked until they close: open and not idle, then closed by the client', async () => {
    ts = await fx.start('express5', {}, routes, { attach: true });
    acceptUpgrades(ts.server);
    const client = await fx.send(UPGRADE);
    expect((await client.response({ head: true })).status).to.equal(101);
    await eventually(() => ts.policy.stats().open === 1, 'one open connection');
    expect(ts.policy.stats().idle).to.equal(0);
    client.destroy();
    await eventually(() => ts.policy.stats().open === 0, 'the upgraded connection closed');
    expect(ts.policy.stats().closed).to.include({ client: 1, drain: 0, idleTimeout: 0 });
  });

  it('with its signal: aborted at the end of delay, closed by its handler, counted drain and graceful', async () => {
    ts = await fx.start('express5', {}, routes, { attach: true });
    acceptUpgrades(ts.server, (req, socket) => {
      ts.policy.drainSignal(req).addEventListener('abort', () => socket.end('bye'), { once: true });
    });
    const client = await fx.send(UPGRADE);
    expect((await client.response({ head: true })).status).to.equal(101);
    expect(await ts.policy.drain({ delay: 100, timeout: 5000 })).to.deep.equal({ graceful: 1, destroyed: 0 });
    expect((await client.closed(2000)).kind).to.equal('fin');
    expect(client.rest).to.equal('bye');
    expect(ts.policy.stats().closed).to.include({ drain: 1, client: 0 });
  });

  it('one that closed before the drain is not aborted by it', async () => {
    ts = await fx.start('express5', {}, routes, { attach: true });
    const signals: AbortSignal[] = [];
    acceptUpgrades(ts.server, (req) => void signals.push(ts.policy.drainSignal(req)));
    const client = await fx.send(UPGRADE);
    expect((await client.response({ head: true })).status).to.equal(101);
    client.destroy();
    await eventually(() => ts.policy.stats().open === 0, 'the upgraded connection closed');
    expect(await ts.policy.drain({ timeout: 1000 })).to.deep.equal({ graceful: 0, destroyed: 0 });
    expect(signals).to.have.length(1);
    expect(signals[0]!.aborted).to.equal(false);
  });

  it('without a signal: waited for like a response in flight until timeout, then destroyed', async () => {
    ts = await fx.start('express5', {}, routes, { attach: true });
    const upgraded = acceptUpgrades(ts.server);
    const client = await fx.send(UPGRADE);
    expect((await client.response({ head: true })).status).to.equal(101);
    const idle = await fx.send(get('/'));
    await idle.response();
    const started = Date.now();
    expect(await ts.policy.drain({ timeout: 300 })).to.deep.equal({ graceful: 1, destroyed: 1 });
    expect(Date.now() - started).to.be.within(240, 600);
    expect((await idle.closed(500)).kind).to.equal('fin');
    expect(upgraded[0]!.destroyed).to.equal(true);
    expect(ts.policy.stats().closed).to.include({ drain: 2 });
  });
});
