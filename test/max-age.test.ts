import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { RawClient, get } from './helpers/raw.js';
import { routes, useTestServer, type TestServer } from './helpers/servers.js';
import { connectionPolicy } from '../src/index.js';

describe('maxAge and maxAgeJitter', () => {
  const fx = useTestServer();
  let ts: TestServer;
  let client: RawClient;

  it('closes on the first response after the connection has been open maxAge', async () => {
    ts = await fx.start('express5', { maxAge: 300, maxAgeJitter: 0 }, routes);
    client = await fx.send(get('/'));
    expect((await client.response()).header('connection')).to.equal('keep-alive');
    await sleep(350);
    // The idle connection is not closed for its age: only a response carries the close.
    expect((await client.closed(1)).kind).to.equal('open');
    client.write(get('/'));
    const res = await client.response();
    expect(res.header('connection')).to.equal('close');
    expect((await client.closed(2000)).kind).to.equal('fin');
    expect(ts.policy.stats().closed.maxAge).to.equal(1);
  });

  it('counts age from accept when attached', async () => {
    ts = await fx.start('http', { maxAge: 200, maxAgeJitter: 0 }, routes, { attach: true });
    client = await fx.connect();
    await sleep(250);
    client.write(get('/'));
    expect((await client.response()).header('connection')).to.equal('close');
  });

  it('draws each connection limit from [maxAge × (1 − jitter), maxAge]', async () => {
    // Sampled at a fixed age: with jitter 1 each limit is uniform in [0, 400] ms, so
    // at 200 ms about half of the connections are past theirs. Without jitter all
    // or none would be.
    const policy = connectionPolicy({ maxAge: 400, maxAgeJitter: 1 });
    ts = await fx.start('http', policy, routes, { attach: true });
    const clients = await Promise.all(Array.from({ length: 40 }, () => fx.connect()));
    await sleep(200);
    for (const c of clients) c.write(get('/'));
    const closes = (await Promise.all(clients.map((c) => c.response()))).filter(
      (r) => r.header('connection') === 'close',
    ).length;
    // Binomial(40, ~0.5): 8..32 holds with probability > 0.9999.
    expect(closes).to.be.within(8, 32);
  });
});
