import { expect } from 'chai';
import { get } from './helpers/raw.js';
import { useTestServer, type TestServer } from './helpers/servers.js';
import type { ConnectionStats } from '../src/index.js';

async function until(ts: TestServer, check: (s: ConnectionStats) => boolean): Promise<ConnectionStats> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const s = ts.policy.stats();
    if (check(s)) return s;
    if (Date.now() > deadline) throw new Error(`stats never matched: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('policy.stats()', () => {
  const fx = useTestServer();
  const connect = fx.connect;
  let ts: TestServer;

  it('counts open, idle, accepted, requests and reused requests exactly', async () => {
    ts = await fx.start('express5', {}, (req, res) => {
      setTimeout(() => res.end('x'), req.url === '/slow' ? 150 : 0);
    });
    expect(ts.policy.stats()).to.deep.equal({
      open: 0,
      idle: 0,
      accepted: 0,
      requests: 0,
      reusedRequests: 0,
      closed: { client: 0, policy: 0, maxRequests: 0, maxAge: 0, idleTimeout: 0, drain: 0, error: 0 },
    });
    const a = await connect();
    const b = await connect();
    for (let i = 0; i < 3; i++) {
      a.write(get('/'));
      await a.response();
    }
    b.write(get('/slow'));
    const during = await until(ts, (s) => s.requests === 4);
    expect(during).to.include({ open: 2, idle: 1, accepted: 2, requests: 4, reusedRequests: 2 });
    await b.response();
    expect(await until(ts, (s) => s.idle === 2)).to.include({ open: 2, idle: 2 });
    a.destroy();
    b.destroy();
    const after = await until(ts, (s) => s.open === 0);
    expect(after.closed.client).to.equal(2);
  });

  it('returns a fresh plain object each time', () => {
    return fx.start('http', {}, (req, res) => res.end()).then((started) => {
      ts = started;
      const s1 = ts.policy.stats();
      s1.closed.client = 99;
      expect(ts.policy.stats().closed.client).to.equal(0);
      expect(ts.policy.stats()).to.not.equal(ts.policy.stats());
    });
  });

  it('counts every close reason once, for a scenario made to trigger it', async () => {
    ts = await fx.start(
      'express5',
      {
        policy: (req) => (req.url === '/policy' ? 'close' : 'keep-alive'),
        maxRequests: 3,
        maxAge: 300,
        maxAgeJitter: 0,
        idleTimeout: 1000,
      },
      (req, res) => {
        if (req.url === '/hang') return; // reset by the client below
        res.end('x');
      },
      { attach: true },
    );
    // client: the request asks for close
    const client = await connect();
    client.write(get('/', 'Connection: close'));
    await client.response();
    // policy: the function answers close
    const policy = await connect();
    policy.write(get('/policy'));
    await policy.response();
    // maxRequests: three requests on one connection
    const maxRequests = await connect();
    for (let i = 0; i < 3; i++) {
      maxRequests.write(get('/'));
      await maxRequests.response();
    }
    // error: reset by the peer with a request in flight
    const error = await connect();
    error.write(get('/hang'));
    await until(ts, (s) => s.requests === 6);
    error.socket.resetAndDestroy();
    // maxAge: the first response after 300 ms (well before the 1000 ms idle timer)
    const maxAge = await connect();
    maxAge.write(get('/'));
    expect((await maxAge.response()).header('connection')).to.equal('keep-alive');
    await new Promise((r) => setTimeout(r, 350));
    maxAge.write(get('/'));
    expect((await maxAge.response()).header('connection')).to.equal('close');
    // idleTimeout: connected, then silent
    await connect();
    const s = await until(ts, (x) => x.open === 0);
    expect(s.closed).to.deep.equal({ client: 1, policy: 1, maxRequests: 1, maxAge: 1, idleTimeout: 1, drain: 0, error: 1 });
    expect(s.accepted).to.equal(6);
  });
});
