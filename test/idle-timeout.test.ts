import { expect } from 'chai';
import { RawClient, get } from './helpers/raw.js';
import { eventually } from './helpers/wait.js';
import { FLAVORS, routes, useTestServer, type TestServer } from './helpers/servers.js';

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
      ts = await fx.start(flavor, { idleTimeout: 1500 }, routes, {
        configure: (server) => {
          server.keepAliveTimeout = 200;
        },
      });
      client = await fx.send(get('/'));
      await client.response();
      // Node alone would close at 200 + 1000 ms.
      const closed = await client.closed(3000);
      expect(closed.kind).to.equal('fin');
      expect(closed.afterMs).to.be.within(1500 * 0.8, 1500 * 2);
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

  it("sets Node's keepAliveTimeout so that Node's own close also lands at idleTimeout", async () => {
    ts = await fx.start('http', { idleTimeout: 65_000 }, routes, { attach: true });
    expect(ts.server.keepAliveTimeout).to.equal(64_000);
  });
});
