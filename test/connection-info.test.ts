import { expect } from 'chai';
import { RawClient, get } from './helpers/raw.js';
import http from 'node:http';
import express from 'express';
import { closeServer, listen, startServer, type TestServer } from './helpers/servers.js';
import { connectionInfo, connectionPolicy, type ConnectionInfo } from '../src/index.js';

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

  it('uses a custom header name, and only that one', async () => {
    ts = await startServer('express5', { exposeConnectionId: 'X-Conn' }, (req, res) => res.end('x'));
    const c = await RawClient.send(ts.port, get('/'));
    clients.push(c);
    const res = await c.response();
    expect(res.header('x-conn')).to.match(/^\d+;req=1$/);
    expect(res.count('x-connection-id')).to.equal(0);
  });

  for (const options of [{}, { exposeConnectionId: false }] as const) {
    it(`sends none when off (${JSON.stringify(options)}), on kept-alive and closing responses alike`, async () => {
      ts = await startServer('express5', options, (req, res) => res.end('x'));
      const c = await RawClient.send(ts.port, get('/'));
      clients.push(c);
      const kept = await c.response();
      c.write(get('/', 'Connection: close'));
      const closing = await c.response();
      expect([kept.header('connection'), closing.header('connection')]).to.deep.equal(['keep-alive', 'close']);
      // No header of any name carries an id.
      for (const res of [kept, closing]) {
        expect(
          Object.values(res.headers)
            .flat()
            .filter((v) => /;req=\d+$/.test(v)),
        ).to.deep.equal([]);
      }
    });
  }

  it('is undefined for a request of a server the policy has not seen, and set from then on', async () => {
    // The policy is mounted on /api only; the server's first request goes elsewhere.
    const seen: Array<ConnectionInfo | undefined> = [];
    const app = express();
    const api = express.Router();
    api.use(connectionPolicy());
    app.use('/api', api);
    app.use((req, res) => {
      seen.push(connectionInfo(req));
      res.end('x');
    });
    const server = http.createServer(app);
    const port = await listen(server);
    ts = { close: () => closeServer(server) } as TestServer;
    for (const path of ['/other', '/api/x', '/other']) {
      const c = await RawClient.send(port, get(path));
      clients.push(c);
      await c.response();
    }
    // Before the policy met the server: undefined. After: its 'request' listener
    // admits every request of that server, before any route (docs/decisions.md, "connectionInfo(req)").
    expect(seen.map((info) => info?.requests)).to.deep.equal([undefined, 1, 1]);
  });
});
