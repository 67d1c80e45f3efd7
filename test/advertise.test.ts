import { expect } from 'chai';
import http from 'node:http';
import express from 'express';
import { RawClient, get } from './helpers/raw.js';
import { closeServer, listen, routes, useTestServer } from './helpers/servers.js';
import { connectionPolicy } from '../src/index.js';

// `advertise`: Keep-Alive: timeout=T with T = max(1, floor(idleTimeout / 1000) − 1),
// one second below what the server enforces, so a client that honours it lets go first.
describe('advertise', () => {
  const fx = useTestServer();
  let client: RawClient;

  const cases: Array<[number, number]> = [
    [65_000, 64],
    [60_000, 59],
    [5_000, 4],
    [3_000, 2],
    [2_500, 1],
    [1_999, 1],
    [1_000, 1],
    [1, 1],
  ];
  for (const [idleTimeout, seconds] of cases) {
    it(`idleTimeout ${idleTimeout} advertises timeout=${seconds}`, async () => {
      await fx.start('http', { idleTimeout }, routes);
      client = await fx.send(get('/'));
      const res = await client.response();
      expect(res.count('keep-alive')).to.equal(1);
      expect(res.header('keep-alive')).to.equal(`timeout=${seconds}`);
      expect(connectionPolicy({ idleTimeout }).options.advertisedTimeout).to.equal(seconds);
    });
  }

  it("replaces a handler's own Keep-Alive header rather than adding a second", async () => {
    await fx.start('express5', {}, (req, res) => {
      res.setHeader('Keep-Alive', 'timeout=999');
      routes(req, res);
    });
    client = await fx.send(get('/'));
    const res = await client.response();
    expect(res.count('keep-alive')).to.equal(1);
    expect(res.header('keep-alive')).to.equal('timeout=64');
  });

  it("sends no Keep-Alive header at all with advertise: false (not even Node's)", async () => {
    await fx.start('express5', { advertise: false }, routes, { attach: true });
    client = await fx.send(get('/'));
    const res = await client.response();
    expect(res.header('connection')).to.equal('keep-alive');
    expect(res.count('keep-alive')).to.equal(0);
  });

  for (const policy of ['keep-alive', 'close'] as const) {
    it(`advertise: false on an attached server: no hint either on a response written before the middleware (policy '${policy}')`, async () => {
      // Node would write its own hint from the keepAliveTimeout attach() aligned
      // (timeout=64): the policy's value, which advertise: false turns off.
      const policyMiddleware = connectionPolicy({ advertise: false, policy });
      const app = express();
      app.get('/early', (req, res) => void res.send('early'));
      app.use(policyMiddleware);
      app.use((req, res) => void res.send('late'));
      const server = policyMiddleware.attach(http.createServer(app));
      const port = await listen(server);
      try {
        const c = await RawClient.connect(port);
        try {
          c.write(get('/early'));
          const res = await c.response();
          expect([res.body, res.header('connection'), res.count('keep-alive')]).to.deep.equal(['early', 'keep-alive', 0]);
        } finally {
          c.destroy();
        }
      } finally {
        await closeServer(server);
      }
    });
  }

  it("drops a handler's own Keep-Alive header with advertise: false", async () => {
    await fx.start(
      'express5',
      { advertise: false },
      (req, res) => {
        res.setHeader('Keep-Alive', 'timeout=999');
        routes(req, res);
      },
      { attach: true },
    );
    client = await fx.send(get('/'));
    const res = await client.response();
    expect(res.header('connection')).to.equal('keep-alive');
    expect(res.count('keep-alive')).to.equal(0);
  });

  it('sends no Keep-Alive header on a response that closes', async () => {
    await fx.start('express5', {}, (req, res) => {
      res.setHeader('Keep-Alive', 'timeout=5');
      routes(req, res);
    });
    client = await fx.send(get('/', 'Connection: close'));
    const res = await client.response();
    expect(res.header('connection')).to.equal('close');
    expect(res.count('keep-alive')).to.equal(0);
  });
});
