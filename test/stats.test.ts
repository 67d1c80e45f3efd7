import { expect } from 'chai';
import { get } from './helpers/raw.js';
import { useTestServer, type TestServer } from './helpers/servers.js';
import { closeEveryWay, until } from './helpers/close-reasons.js';

describe('policy.stats()', () => {
  const fx = useTestServer();
  const { connect } = fx;
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
    return fx
      .start('http', {}, (req, res) => res.end())
      .then((started) => {
        ts = started;
        const s1 = ts.policy.stats();
        s1.closed.client = 99;
        expect(ts.policy.stats().closed.client).to.equal(0);
        expect(ts.policy.stats()).to.not.equal(ts.policy.stats());
      });
  });

  it('counts every close reason once, for a scenario made to trigger it', async () => {
    const { stats } = await closeEveryWay(fx);
    expect(stats.closed).to.deep.equal({ client: 1, policy: 1, maxRequests: 1, maxAge: 1, idleTimeout: 1, drain: 0, error: 1 });
    expect(stats.accepted).to.equal(6);
  });
});

describe("stats(): the server's own close()", () => {
  const fx = useTestServer();

  for (const attach of [false, true]) {
    it(`counts idle connections that server.close() ends under drain, not client${attach ? ' (attached)' : ''}`, async () => {
      const ts = await fx.start(
        'express5',
        {},
        (req, res) => void setTimeout(() => res.end('x'), req.url === '/slow' ? 200 : 0),
        {
          attach,
        },
      );
      const a = await fx.connect();
      const b = await fx.connect();
      for (const c of [a, b]) {
        c.write(get('/'));
        await c.response();
      }
      // b says goodbye itself first: that one is the client's.
      b.socket.end();
      await until(ts, (s) => s.open === 1);
      // c is busy when the server closes; its client says goodbye after its response.
      const c = await fx.connect();
      c.write(get('/slow'));
      await until(ts, (s) => s.requests === 3);
      ts.server.close();
      expect((await a.closed(2000)).kind).to.equal('fin');
      await c.response();
      c.socket.end();
      const after = await until(ts, (s) => s.open === 0);
      expect(after.closed).to.include({ client: 2, drain: 1 });
    });
  }
});

describe('stats(): the first reason that applied is the one counted', () => {
  const fx = useTestServer();

  it('a maxRequests close still streaming at the drain deadline stays maxRequests', async () => {
    const ts = await fx.start(
      'express5',
      { maxRequests: 1 },
      (req, res) => {
        res.setHeader('Content-Type', 'text/plain');
        res.write('streaming');
      },
      { attach: true },
    );
    const c = await fx.connect();
    c.write(get('/'));
    const head = await c.response({ head: true });
    expect(head.header('connection')).to.equal('close');
    expect(await ts.policy.drain({ timeout: 200 })).to.deep.equal({ graceful: 0, destroyed: 1 });
    const after = await until(ts, (s) => s.open === 0);
    expect(after.closed).to.include({ maxRequests: 1, drain: 0 });
  });
});
