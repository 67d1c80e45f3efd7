import { expect } from 'chai';
import type { Socket } from 'node:net';
import { RawClient, get } from './helpers/raw.js';
import { routes, startServer, type TestServer } from './helpers/servers.js';

const UPGRADE = get(
  '/ws',
  'Connection: Upgrade',
  'Upgrade: websocket',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version: 13',
);

// SPEC §1 rule 6: upgrade requests are left alone.
describe('upgrade requests', () => {
  let ts: TestServer;
  let client: RawClient | undefined;
  afterEach(async () => {
    client?.destroy();
    await ts.close();
  });

  it("are left to an 'upgrade' listener untouched, and the socket is not timed out", async () => {
    ts = await startServer('express5', { idleTimeout: 200 }, routes, { attach: true });
    const upgraded: Socket[] = [];
    ts.server.on('upgrade', (req, socket: Socket) => {
      upgraded.push(socket);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.on('data', (d) => socket.write(d));
    });
    client = await RawClient.send(ts.port, UPGRADE);
    const res = await client.response();
    expect(res.status).to.equal(101);
    expect(res.header('connection')).to.equal('Upgrade');
    expect(res.count('keep-alive')).to.equal(0);
    expect(upgraded).to.have.length(1);
    // Past idleTimeout the upgraded connection is still the listener's.
    expect((await client.closed(500)).kind).to.equal('open');
    client.write('ping');
    await new Promise((r) => setTimeout(r, 50));
    expect(client.rest).to.equal('ping');
    upgraded[0]!.destroy();
  });

  it('is not ended by drain(): the upgraded connection belongs to its listener', async () => {
    ts = await startServer('express5', {}, routes, { attach: true });
    const upgraded: Socket[] = [];
    ts.server.on('upgrade', (req, socket: Socket) => {
      upgraded.push(socket);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.on('data', (d) => socket.write(d));
    });
    client = await RawClient.send(ts.port, UPGRADE);
    expect((await client.response()).status).to.equal(101);
    const idle = await RawClient.send(ts.port, get('/'));
    await idle.response();
    expect(await ts.policy.drain({ timeout: 1000 })).to.deep.equal({ graceful: 1, destroyed: 0 });
    expect((await idle.closed(500)).kind).to.equal('fin');
    expect(ts.policy.stats().closed.drain).to.equal(1); // the HTTP one; the WebSocket is not counted as closed
    client.write('still here');
    await new Promise((r) => setTimeout(r, 50));
    expect(client.rest).to.equal('still here');
    idle.destroy();
    upgraded[0]!.destroy();
  });

  it('goes through the middleware like any request when nobody listens for upgrade', async () => {
    ts = await startServer('express5', {}, (req, res) => {
      res.statusCode = 426;
      res.end('no websockets here');
    });
    client = await RawClient.send(ts.port, UPGRADE);
    const res = await client.response();
    expect(res.status).to.equal(426);
    expect(res.header('connection')).to.equal('keep-alive');
  });
});
