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
    // With jitter 1 each limit is uniform in [0, 400] ms, so a connection of age a is
    // past its limit with probability a / 400. Without jitter all or none would be.
    // The ages are measured, not assumed from the sleep: each lies between
    // (writes − last connect) and (last response − first connect).
    const maxAge = 400;
    const n = 40;
    const policy = connectionPolicy({ maxAge, maxAgeJitter: 1 });
    ts = await fx.start('http', policy, routes, { attach: true });
    const connecting = Date.now();
    const clients = await Promise.all(Array.from({ length: n }, () => fx.connect()));
    const connected = Date.now();
    await sleep(200);
    const writing = Date.now();
    for (const c of clients) c.write(get('/'));
    const responses = await Promise.all(clients.map((c) => c.response()));
    const answered = Date.now();
    const closes = responses.filter((r) => r.header('connection') === 'close').length;
    const low = Math.min(1, (writing - connected) / maxAge);
    const high = Math.min(1, (answered - connecting) / maxAge);
    // Binomial(n, p) stays within 4.5 standard deviations with probability > 0.99999.
    const sd = (p: number) => Math.sqrt(n * p * (1 - p));
    expect(closes, `ages ${writing - connected}–${answered - connecting} ms`).to.be.within(
      Math.floor(n * low - 4.5 * sd(low)),
      Math.ceil(n * high + 4.5 * sd(high)),
    );
    // And not all or none, which a fixed limit would give (ages well inside (0, maxAge)).
    if (high < 0.8) expect(closes).to.be.within(1, n - 1);
  });
});
