import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import { eventually, nextRequest } from './helpers/wait.js';
import { RawClient, get } from './helpers/raw.js';
import { useTestServer, type TestServer, type Handler } from './helpers/servers.js';

const slowable: Handler = (req, res) => {
  const ms = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? 0);
  if (ms < 0) return; // never answers
  setTimeout(() => res.end('done'), ms);
};

describe('policy.drain()', () => {
  const fx = useTestServer();
  const { connect } = fx;
  let ts: TestServer;

  /** A connection whose request `path` has reached its handler. */
  async function inFlight(path: string): Promise<RawClient> {
    const c = await connect();
    const reached = nextRequest(ts.server);
    c.write(get(path));
    await reached;
    return c;
  }

  it('lets an in-flight request finish with Connection: close, then resolves', async () => {
    ts = await fx.start('express5', {}, slowable, { attach: true });
    const c = await inFlight('/?ms=200');
    const drained = ts.policy.drain();
    const res = await c.response();
    expect(res.status).to.equal(200);
    expect(res.body).to.equal('done');
    expect(res.header('connection')).to.equal('close');
    expect((await c.closed(2000)).kind).to.equal('fin');
    expect(await drained).to.deep.equal({ graceful: 1, destroyed: 0 });
    expect(ts.policy.stats()).to.include({ open: 0 });
    expect(ts.policy.stats().closed.drain).to.equal(1);
  });

  it('ends idle connections with a FIN, not a reset, and stops accepting', async () => {
    ts = await fx.start('express5', {}, slowable, { attach: true });
    const idle = await connect();
    idle.write(get('/'));
    await idle.response();
    const silent = await connect(); // never sends a request
    const result = await ts.policy.drain();
    expect(result).to.deep.equal({ graceful: 2, destroyed: 0 });
    expect((await idle.closed(1000)).kind).to.equal('fin');
    expect((await silent.closed(1000)).kind).to.equal('fin');
    expect(ts.server.listening).to.equal(false);
    const refused = await RawClient.connect(ts.port).then(
      (c) => (c.destroy(), 'connected'),
      (err: NodeJS.ErrnoException) => err.code,
    );
    expect(refused).to.equal('ECONNREFUSED');
  });

  it('ends a connection whose keep-alive response was already under way after that response', async () => {
    ts = await fx.start(
      'express5',
      {},
      (req, res) => {
        res.write('head-');
        setTimeout(() => res.end('tail'), 150);
      },
      { attach: true },
    );
    const c = await connect();
    c.write(get('/'));
    await eventually(() => c.rest.startsWith('HTTP/1.1 200'), 'the head was sent');
    const drained = ts.policy.drain();
    const res = await c.response();
    expect(res.header('connection')).to.equal('keep-alive'); // already sent before the drain
    expect(res.body).to.equal('head-tail');
    expect((await c.closed(2000)).kind).to.equal('fin');
    expect(await drained).to.deep.equal({ graceful: 1, destroyed: 0 });
  });

  // Streams its head at once and ends `?ms` later: the head goes out as keep-alive.
  const underWay: Handler = (req, res) => {
    const ms = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? 150);
    res.write('head-');
    setTimeout(() => res.end('tail'), ms);
  };

  it('ends a pipelined connection after the last response under way, not after the first', async () => {
    ts = await fx.start('express5', {}, underWay, { attach: true });
    const c = await connect();
    c.write(get('/?ms=100') + get('/?ms=300'));
    await eventually(() => c.rest.startsWith('HTTP/1.1 200'), 'the first head was sent');
    const drained = ts.policy.drain({ timeout: 5000 });
    const first = await c.response();
    const second = await c.response();
    expect([first.body, second.body]).to.deep.equal(['head-tail', 'head-tail']);
    expect((await c.closed(2000)).kind).to.equal('fin');
    expect(await drained).to.deep.equal({ graceful: 1, destroyed: 0 });
  });

  it('is not held by a client that keeps its half open after the FIN', async () => {
    ts = await fx.start('express5', {}, underWay, { attach: true });
    // allowHalfOpen: the client never ends its side; the server must close the connection itself.
    const socket = net.connect({ port: ts.port, host: '127.0.0.1', allowHalfOpen: true });
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
    try {
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(get('/'));
      await eventually(() => received.startsWith('HTTP/1.1 200'), 'the head was sent');
      const result = await ts.policy.drain({ timeout: 3000 });
      expect(result).to.deep.equal({ graceful: 1, destroyed: 0 });
      await ended; // the server's FIN
      expect(received).to.match(/head-.*tail/s);
      expect(ts.policy.stats()).to.include({ open: 0 });
    } finally {
      socket.destroy();
    }
  });

  it('with timeout: Infinity, waits for a response in flight however long it takes', async () => {
    ts = await fx.start('express5', {}, slowable, { attach: true });
    const c = await inFlight('/?ms=300');
    const drained = ts.policy.drain({ timeout: Infinity });
    const res = await c.response();
    expect([res.status, res.body, res.header('connection')]).to.deep.equal([200, 'done', 'close']);
    expect(await drained).to.deep.equal({ graceful: 1, destroyed: 0 });
  });

  it('destroys what is left at the deadline', async () => {
    ts = await fx.start('express5', {}, slowable, { attach: true });
    const stuck = await inFlight('/?ms=-1');
    const drained = ts.policy.drain({ timeout: 400 });
    // Still served at half the deadline, ended by twice it: 2× margins both ways.
    expect((await stuck.closed(200)).kind).to.equal('open');
    expect((await stuck.closed(600)).kind).to.not.equal('open');
    const result = await drained;
    expect(result).to.deep.equal({ graceful: 0, destroyed: 1 });
    expect(ts.policy.stats().closed.drain).to.equal(1);
  });

  it('with idleGrace, answers a request on an idle connection with close instead of ending it first', async () => {
    ts = await fx.start('express5', {}, slowable, { attach: true });
    const busy = await connect();
    busy.write(get('/'));
    await busy.response();
    const silent = await connect();
    silent.write(get('/'));
    await silent.response();
    const started = Date.now();
    const drained = ts.policy.drain({ idleGrace: 400 });
    // Stopped accepting at once…
    const refused = await RawClient.connect(ts.port).then(
      (c) => (c.destroy(), 'connected'),
      (err: NodeJS.ErrnoException) => err.code,
    );
    expect(refused).to.equal('ECONNREFUSED');
    // …but an idle connection still carries one more request, answered with close.
    await new Promise((r) => setTimeout(r, 100));
    busy.write(get('/'));
    const res = await busy.response();
    expect(res.status).to.equal(200);
    expect(res.header('connection')).to.equal('close');
    expect((await busy.closed(1000)).kind).to.equal('fin');
    // The silent one is ended with a FIN when the grace is over.
    const closed = await silent.closed(2000);
    expect(closed.kind).to.equal('fin');
    expect(Date.now() - started).to.be.within(400 * 0.8, 400 * 2);
    expect(await drained).to.deep.equal({ graceful: 2, destroyed: 0 });
  });

  it('with delay, resolves only after the delay, and has stopped accepting by then, even if every connection closed during it', async () => {
    ts = await fx.start('express5', {}, slowable, { attach: true });
    const c = await connect();
    c.write(get('/'));
    await c.response();
    const started = Date.now();
    const drained = ts.policy.drain({ delay: 400 });
    c.destroy(); // the last connection goes at once, during the announce phase
    expect(await drained).to.deep.equal({ graceful: 1, destroyed: 0 });
    expect(Date.now() - started).to.be.within(400 * 0.8, 400 * 2);
    expect(ts.server.listening).to.equal(false);
  });

  it('returns the same promise when called twice', async () => {
    ts = await fx.start('express5', {}, slowable, { attach: true });
    const first = ts.policy.drain();
    expect(ts.policy.drain()).to.equal(first);
    expect(await first).to.deep.equal({ graceful: 0, destroyed: 0 });
  });

  it('without attach: closes every later response and resolves when the seen connections are gone', async () => {
    ts = await fx.start('http', {}, slowable);
    const c = await inFlight('/?ms=100');
    const drained = ts.policy.drain({ timeout: 2000 });
    expect((await c.response()).header('connection')).to.equal('close');
    expect(await drained).to.deep.equal({ graceful: 1, destroyed: 0 });
    // A new connection is still accepted (the server is not ours to close) but closed after one response.
    const late = await connect();
    late.write(get('/'));
    expect((await late.response()).header('connection')).to.equal('close');
  });

  it('rejects bad options', () => {
    return fx.start('http', {}, slowable).then((started) => {
      ts = started;
      expect(() => ts.policy.drain({ timeout: -1 })).to.throw(RangeError, /"timeout"/);
      expect(() => ts.policy.drain({ timeout: '5' as unknown as number })).to.throw(TypeError, /"timeout"/);
      expect(() => ts.policy.drain({ timeot: 5 } as never)).to.throw(TypeError, /did you mean "timeout"/);
      expect(() => ts.policy.drain({ idleGrace: Infinity })).to.throw(RangeError, /"idleGrace"/);
      expect(() => ts.policy.drain({ idleGrace: -1 })).to.throw(RangeError, /"idleGrace"/);
    });
  });

  it('loses no request that reached a handler, under continuous keep-alive load', async function () {
    this.timeout(15_000);
    const handled = new Set<string>();
    const answered = new Set<string>();
    ts = await fx.start(
      'express5',
      {},
      (req, res) => {
        const id = String(req.headers['x-req']);
        handled.add(id);
        setTimeout(() => res.end(id), Math.random() * 20);
      },
      { attach: true },
    );
    const failures: Array<{ id: string; error: string }> = [];
    let stop = false;
    const lane = async (lane: number) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      for (let i = 0; !stop && i < 2000; i++) {
        const id = `${lane}-${i}`;
        try {
          await new Promise<void>((resolve, reject) => {
            const req = http.get({ host: '127.0.0.1', port: ts.port, agent, headers: { 'x-req': id } }, (res) => {
              let body = '';
              res.on('data', (d) => (body += d));
              res.on('end', () => (body === id ? (answered.add(id), resolve()) : reject(new Error(`bad body ${body}`))));
              res.on('error', reject);
            });
            req.on('error', reject);
          });
        } catch (err) {
          failures.push({ id, error: (err as NodeJS.ErrnoException).code ?? String(err) });
          if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') break;
        }
        await new Promise((r) => setTimeout(r, Math.random() * 5));
      }
      agent.destroy();
    };
    const lanes = Array.from({ length: 8 }, (_, i) => lane(i));
    await new Promise((r) => setTimeout(r, 800));
    const before = ts.policy.stats().requests;
    const started = Date.now();
    const result = await ts.policy.drain({ timeout: 5000 });
    const took = Date.now() - started;
    stop = true;
    await Promise.all(lanes);
    const lost = failures.filter((f) => handled.has(f.id));
    expect(lost, JSON.stringify(lost)).to.deep.equal([]);
    expect(before).to.be.greaterThan(50);
    expect(result.destroyed).to.equal(0);
    expect(took).to.be.below(5000);
    expect(ts.policy.stats().open).to.equal(0);
    expect(answered.size).to.equal(handled.size);
  });
});
