import { expect } from 'chai';
import { RawClient, get } from './helpers/raw.js';
import { startServer, type TestServer } from './helpers/servers.js';
import { connectionInfo, type ConnectionInfo } from '../src/index.js';

describe('connectionInfo(req) and exposeConnectionId', () => {
  let ts: TestServer;
  const clients: RawClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await ts.close();
  });

  it('numbers connections and the requests on each', async () => {
    const infos: ConnectionInfo[] = [];
    const before = Date.now();
    ts = await startServer('express5', { exposeConnectionId: true }, (req, res) => {
      infos.push(connectionInfo(req)!);
      res.end('x');
    });
    const a = await RawClient.connect(ts.port);
    const b = await RawClient.connect(ts.port);
    clients.push(a, b);
    const ids: string[] = [];
    for (const c of [a, a, b, a]) {
      c.write(get('/'));
      ids.push((await c.response()).header('x-connection-id')!);
    }
    const [a1, a2, b1, a3] = infos as [ConnectionInfo, ConnectionInfo, ConnectionInfo, ConnectionInfo];
    expect([a1.requests, a2.requests, b1.requests, a3.requests]).to.deep.equal([1, 2, 1, 3]);
    expect([a1.reused, a2.reused, b1.reused, a3.reused]).to.deep.equal([false, true, false, true]);
    expect(a1.id).to.equal(a2.id).and.to.equal(a3.id);
    expect(b1.id).to.not.equal(a1.id);
    expect(a1.id).to.be.a('number').and.to.be.at.least(1);
    expect(a1.openedAt).to.be.within(before, Date.now());
    expect(ids).to.deep.equal([`${a1.id};req=1`, `${a1.id};req=2`, `${b1.id};req=1`, `${a1.id};req=3`]);
  });

  it('uses a custom header name and sends none when off', async () => {
    ts = await startServer('express5', { exposeConnectionId: 'X-Conn' }, (req, res) => res.end('x'));
    const c = await RawClient.send(ts.port, get('/'));
    clients.push(c);
    const res = await c.response();
    expect(res.header('x-conn')).to.match(/^\d+;req=1$/);
    expect(res.count('x-connection-id')).to.equal(0);
  });

  it('returns undefined for a request that did not pass through the middleware', async () => {
    ts = await startServer('express5', {}, (req, res) => res.end('x'));
    let seen: unknown = 'unset';
    const { createServer } = await import('node:http');
    const bare = createServer((req, res) => {
      seen = connectionInfo(req);
      res.end();
    });
    await new Promise<void>((r) => bare.listen(0, '127.0.0.1', () => r()));
    const port = (bare.address() as { port: number }).port;
    const c = await RawClient.send(port, get('/', 'Connection: close'));
    clients.push(c);
    await c.response();
    await new Promise((r) => bare.close(r));
    expect(seen).to.equal(undefined);
  });
});
