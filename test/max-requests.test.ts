import { expect } from 'chai';
import { RawClient, get } from './helpers/raw.js';
import { FLAVORS, routes, useTestServer, type TestServer } from './helpers/servers.js';

// SPEC §1 rule 8 and the `maxRequests` option (nginx keepalive_requests).
for (const flavor of FLAVORS) {
  describe(`maxRequests (${flavor})`, () => {
    const fx = useTestServer();
    let ts: TestServer;
    let client: RawClient;

    it('counts max= down and closes cleanly on the Nth response, never a 503', async () => {
      ts = await fx.start(flavor, { maxRequests: 3, idleTimeout: 10_000 }, routes);
      client = await fx.connect();
      const seen: Array<[number, string | undefined, string | undefined]> = [];
      for (let i = 0; i < 3; i++) {
        client.write(get('/'));
        const res = await client.response();
        seen.push([res.status, res.header('connection'), res.header('keep-alive')]);
      }
      expect(seen).to.deep.equal([
        [200, 'keep-alive', 'timeout=9, max=2'],
        [200, 'keep-alive', 'timeout=9, max=1'],
        [200, 'close', undefined],
      ]);
      const closed = await client.closed(2000);
      expect(closed.kind).to.equal('fin');
      expect(ts.policy.stats().closed.maxRequests).to.equal(1);
    });

    it('closes pipelined requests at the limit without answering the rest', async () => {
      ts = await fx.start(flavor, { maxRequests: 2 }, routes);
      client = await fx.send(get('/1') + get('/2') + get('/3'));
      expect((await client.response()).header('connection')).to.equal('keep-alive');
      expect((await client.response()).header('connection')).to.equal('close');
      expect((await client.closed(2000)).kind).to.equal('fin');
      expect(client.rest).to.equal('');
    });

    it('maxRequests: 1 closes after every response', async () => {
      ts = await fx.start(flavor, { maxRequests: 1 }, routes);
      client = await fx.send(get('/'));
      const res = await client.response();
      expect(res.header('connection')).to.equal('close');
      expect((await client.closed(2000)).kind).to.equal('fin');
    });
  });
}
