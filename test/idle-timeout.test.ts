import { expect } from 'chai';
import { RawClient, get } from './helpers/raw.js';
import { eventually } from './helpers/wait.js';
import http from 'node:http';
import { FLAVORS, closeServer, listen, routes, useTestServer, type TestServer } from './helpers/servers.js';
import { connectionPolicy } from '../src/index.js';
import { until } from './helpers/close-reasons.js';

// `idleTimeout`: enforced per socket by the middleware itself. Bounds are generous
// (0.8×–2× the configured value): these tests check behaviour, not speed.
const IDLE = 400;

for (const flavor of FLAVORS) {
  describe(`idleTimeout (${flavor})`, () => {
    const fx = useTestServer();
    let ts: TestServer;
    let client: RawClient;

    it('closes an idle kept-alive connection with a FIN after idleTimeout', async () => {
      ts = await fx.start(flavor, { idleTimeout: IDLE }, routes);
      client = await fx.send(get('/'));
      await client.response();
      const closed = await client.closed(IDLE * 3);
      expect(closed.kind).to.equal('fin');
      expect(closed.afterMs).to.be.within(IDLE * 0.8, IDLE * 2);
      await eventually(() => ts.policy.stats().open === 0, 'the connection released');
      expect(ts.policy.stats().closed.idleTimeout).to.equal(1);
    });

    it("overrides Node's shorter keepAliveTimeout (the 5 s default of Node 20–26)", async () => {
      ts = await fx.start(flavor, { idleTimeout: 2000 }, routes, {
        configure: (server) => {
          server.keepAliveTimeout = 100;
        },
      });
      client = await fx.send(get('/'));
      await client.response();
      // Node alone would close at 100 + 1000 ms, well below 0.8 × 2000.
      const closed = await client.closed(5000);
      expect(closed.kind).to.equal('fin');
      expect(closed.afterMs).to.be.within(2000 * 0.8, 2000 * 2);
    });

    it('does not cut a slow next request short (also with keepAliveTimeout 0)', async () => {
      ts = await fx.start(flavor, { idleTimeout: 300 }, routes, {
        configure: (server) => {
          server.keepAliveTimeout = 0;
        },
      });
      client = await fx.send(get('/'));
      await client.response();
      client.write(get('/?ms=700'));
      const res = await client.response({ timeoutMs: 3000 });
      expect(res.status).to.equal(200);
      const closed = await client.closed(2000);
      expect(closed.kind).to.equal('fin');
      expect(closed.afterMs).to.be.within(300 * 0.8, 300 * 2);
    });

    it('restarts the idle period after every response', async () => {
      // Pauses of 250 ms against a 600 ms idle timeout (2.4× margin), six of them:
      // 1.5 s on one connection, 2.5× the timeout, so a period that did not restart
      // would have ended it even on a slow machine.
      const idle = 600;
      ts = await fx.start(flavor, { idleTimeout: idle }, routes);
      client = await fx.connect();
      const started = Date.now();
      for (let i = 0; i < 6; i++) {
        client.write(get('/'));
        await client.response();
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(Date.now() - started).to.be.at.least(2 * idle);
      client.write(get('/'));
      expect((await client.response()).status).to.equal(200);
      expect(ts.accepted).to.equal(1);
    });
  });
}

describe('idleTimeout with attach()', () => {
  const fx = useTestServer();
  let ts: TestServer;
  let client: RawClient;

  it('times out a connection that never sends a request', async () => {
    ts = await fx.start('express5', { idleTimeout: IDLE }, routes, { attach: true });
    client = await fx.connect();
    const closed = await client.closed(IDLE * 3);
    expect(closed.kind).to.equal('fin');
    expect(closed.afterMs).to.be.within(IDLE * 0.8, IDLE * 2);
  });

  it("a connection whose accept-time timer fired under a server 'timeout' listener, then served a request, is the client's when the client closes", async () => {
    // The server's 'timeout' listener takes the idle socket over (Node destroys
    // nothing); the request that follows makes it an ordinary connection again.
    ts = await fx.start('express5', { idleTimeout: IDLE }, routes, { attach: true });
    let timeouts = 0;
    ts.server.on('timeout', () => timeouts++);
    client = await fx.connect();
    await eventually(() => timeouts === 1, 'the accept-time timer fired', IDLE * 4);
    client.write(get('/'));
    expect((await client.response()).status).to.equal(200);
    client.socket.end();
    const stats = await until(ts, (s) => s.open === 0);
    expect(stats.closed).to.include({ client: 1, idleTimeout: 0 });
  });

  it("sets Node's keepAliveTimeout so that Node's own close also lands at idleTimeout", async () => {
    ts = await fx.start('http', { idleTimeout: 65_000 }, routes, { attach: true });
    expect(ts.server.keepAliveTimeout).to.equal(64_000);
  });

  it("never cuts a request with its own idle timer: disarmed when the request starts, the server's timeout restored", async () => {
    // A connection that has not sent a request yet runs the policy's timer (Node arms
    // none before the first request).
    const timeoutAtStart: number[] = [];
    ts = await fx.start(
      'http',
      { idleTimeout: 300 },
      (req, res) => {
        timeoutAtStart.push(req.socket.timeout ?? -1);
        setTimeout(() => res.end('slow'), 700);
      },
      { attach: true, configure: (server) => (server.timeout = 5000) },
    );
    client = await fx.connect();
    await new Promise((r) => setTimeout(r, 100));
    client.write(get('/'));
    const res = await client.response({ timeoutMs: 3000 });
    expect(res.body).to.equal('slow');
    expect(timeoutAtStart).to.deep.equal([5000]);
  });

  describe("where Node's own timer is not idleTimeout (keepAliveTimeout changed after attach)", () => {
    async function startRearmed(): Promise<void> {
      ts = await fx.start('http', { idleTimeout: 300 }, routes, { attach: true });
      // Node arms no idle timer of its own with 0: the policy's runs after each response.
      ts.server.keepAliveTimeout = 0;
    }

    it('re-arms after each response and disarms when the next request starts, so a slow one is not cut', async () => {
      await startRearmed();
      client = await fx.send(get('/'));
      await client.response();
      await new Promise((r) => setTimeout(r, 100));
      client.write(get('/?ms=700'));
      expect((await client.response({ timeoutMs: 3000 })).status).to.equal(200);
      const closed = await client.closed(1000);
      expect(closed.kind).to.equal('fin');
      expect(closed.afterMs).to.be.within(300 * 0.8, 300 * 2);
    });

    it('does not arm while a pipelined response is still in flight', async () => {
      await startRearmed();
      client = await fx.send(get('/') + get('/?ms=700'));
      const first = await client.response();
      const second = await client.response({ timeoutMs: 3000 });
      expect([first.status, second.status]).to.deep.equal([200, 200]);
    });
  });

  it('closes at idleTimeout after a response the middleware never saw', async () => {
    // The handler answers without calling the middleware: rule 6 leaves the response
    // to Node, and only Node's own idle timer runs after it.
    const policy = connectionPolicy({ idleTimeout: 1500 });
    const server = policy.attach(http.createServer((req, res) => res.end('not through the policy')));
    const port = await listen(server);
    const c = await RawClient.connect(port);
    try {
      c.write(get('/'));
      expect((await c.response()).body).to.equal('not through the policy');
      // Node's default would close at 5000 + 1000 ms.
      const closed = await c.closed(4000);
      expect(closed.kind).to.equal('fin');
      expect(closed.afterMs).to.be.within(1500 * 0.8, 1500 * 2);
    } finally {
      c.destroy();
      await closeServer(server);
    }
  });
});

describe('idleTimeout without attach()', () => {
  it("aligns Node's keepAliveTimeout on the first request the middleware sees, so no response needs a timer of its own", async () => {
    const policy = connectionPolicy({ idleTimeout: 3000 });
    let withPolicy = -1;
    let withoutPolicy = -1;
    const server = http.createServer((req, res) =>
      policy(req, res, () => {
        withPolicy = res.listenerCount('close');
        res.end('ok');
      }),
    );
    const bare = http.createServer((req, res) => {
      withoutPolicy = res.listenerCount('close');
      res.end('ok');
    });
    const [port, barePort] = [await listen(server), await listen(bare)];
    try {
      expect(server.keepAliveTimeout).to.equal(5000);
      const c = await RawClient.send(port, get('/'));
      await c.response();
      c.write(get('/'));
      await c.response();
      c.destroy();
      expect(server.keepAliveTimeout).to.equal(2000);
      // The second response has as many 'close' listeners as a bare server's.
      const b = await RawClient.send(barePort, get('/'));
      await b.response();
      b.destroy();
      expect(withPolicy).to.equal(withoutPolicy);
    } finally {
      await closeServer(server);
      await closeServer(bare);
    }
  });
});
