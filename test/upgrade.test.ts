import { expect } from 'chai';
import type { RawClient } from './helpers/raw.js';
import { UPGRADE, acceptUpgrades } from './helpers/upgrade.js';
import { eventually } from './helpers/wait.js';
import { routes, useTestServer, type TestServer } from './helpers/servers.js';

// SPEC §1 rule 6: upgrade requests are left alone.
describe('upgrade requests', () => {
  const fx = useTestServer();
  let ts: TestServer;
  let client: RawClient;

  it("are left to an 'upgrade' listener untouched, and the socket is not timed out", async () => {
    ts = await fx.start('express5', { idleTimeout: 200 }, routes, { attach: true });
    const upgraded = acceptUpgrades(ts.server);
    client = await fx.send(UPGRADE);
    const res = await client.response();
    expect(res.status).to.equal(101);
    expect(res.header('connection')).to.equal('Upgrade');
    expect(res.count('keep-alive')).to.equal(0);
    expect(upgraded).to.have.length(1);
    // Past idleTimeout the upgraded connection is still the listener's, and the
    // policy's idle timer on it is off (it would otherwise fire every 200 ms for as
    // long as the WebSocket lives).
    expect((await client.closed(500)).kind).to.equal('open');
    expect(upgraded[0]!.timeout).to.equal(0);
    client.write('ping');
    await eventually(() => client.rest === 'ping', 'the echo of ping');
    upgraded[0]!.destroy();
  });

  it('goes through the middleware like any request when nobody listens for upgrade', async () => {
    ts = await fx.start('express5', {}, (req, res) => {
      res.statusCode = 426;
      res.end('no websockets here');
    });
    client = await fx.send(UPGRADE);
    const res = await client.response();
    expect(res.status).to.equal(426);
    expect(res.header('connection')).to.equal('keep-alive');
  });
});
