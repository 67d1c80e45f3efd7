import { expect } from 'chai';
import type { IncomingMessage } from 'node:http';
import { RawClient, get } from './helpers/raw.js';
import { eventually } from './helpers/wait.js';
import { FLAVORS, routes, useTestServer, type TestServer } from './helpers/servers.js';

// SPEC §1 rule 7: pipelined requests are answered in order; after a closing
// response, nothing more is written on the connection.
for (const flavor of FLAVORS) {
  describe(`pipelining (${flavor})`, () => {
    const fx = useTestServer();
    let ts: TestServer;
    let client: RawClient;

    it('answers three pipelined requests in order on one connection', async () => {
      ts = await fx.start(flavor, { exposeConnectionId: true }, routes);
      client = await fx.send(get('/a?ms=60') + get('/b') + get('/c?ms=20'));
      const responses = [await client.response(), await client.response(), await client.response()];
      expect(responses.map((r) => r.header('x-connection-id')?.split(';')[1])).to.deep.equal(['req=1', 'req=2', 'req=3']);
      expect(responses.every((r) => r.header('connection') === 'keep-alive')).to.equal(true);
      expect((await client.closed(200)).kind).to.equal('open');
    });

    it('stops after a response that closes: the third request gets no response and no handler', async () => {
      const handled: string[] = [];
      ts = await fx.start(flavor, {}, (req, res) => {
        handled.push(req.url ?? '');
        routes(req, res);
      });
      client = await fx.send(get('/a?ms=30') + get('/b?connection=close') + get('/c'));
      const first = await client.response();
      const second = await client.response();
      expect(first.header('connection')).to.equal('keep-alive');
      expect(second.header('connection')).to.equal('close');
      expect((await client.closed(2000)).kind).to.equal('fin');
      expect(client.rest).to.equal('');
      // /b's handler answers at once, so its close is decided before /c is handed on:
      // /c never reaches a handler, and nothing is written for it.
      expect(handled).to.deep.equal(['/a?ms=30', '/b?connection=close']);
      expect(ts.policy.stats().open).to.equal(0);
    });

    // Every handler here answers later: all three requests reach their handlers
    // before the first head is written.
    for (const [label, policy] of [
      ['', 'keep-alive'],
      [' (a policy function)', () => 'keep-alive' as const],
    ] as const) {
      it(`with maxRequests${label}, runs no handler for a request pipelined behind the limit`, async () => {
        const handled: string[] = [];
        ts = await fx.start(flavor, { maxRequests: 2, policy }, (req, res) => {
          handled.push(req.url ?? '');
          routes(req, res);
        });
        client = await fx.send(get('/a?ms=30') + get('/b?ms=30') + get('/c?ms=30'));
        const first = await client.response();
        const second = await client.response();
        expect([first.header('connection'), second.header('connection')]).to.deep.equal(['keep-alive', 'close']);
        expect((await client.closed(2000)).kind).to.equal('fin');
        expect(client.rest).to.equal('');
        // The close was known when /b arrived (rule 8): /c is not handed on.
        expect(handled).to.deep.equal(['/a?ms=30', '/b?ms=30']);
        expect(ts.policy.stats()).to.include({ requests: 2, open: 0 });
        expect(ts.policy.stats().closed.maxRequests).to.equal(1);
      });
    }

    it("a policy function's close for the second of three pipelined requests: a, b with Connection: close, a FIN, and no c", async () => {
      // SPEC rule 7: whatever decided the close, nothing is written after it — the
      // function is asked when b arrives, so c (behind it) reaches no handler.
      const handled: string[] = [];
      const policy = (req: IncomingMessage) => (req.url!.startsWith('/b') ? 'close' : 'keep-alive');
      ts = await fx.start(flavor, { policy }, (req, res) => {
        handled.push(req.url ?? '');
        routes(req, res);
      });
      // b answers a moment later: c has arrived (and, before the fix, reached its handler) by then.
      client = await fx.send(get('/a?ms=60') + get('/b?ms=5') + get('/c'));
      const a = await client.response();
      const b = await client.response();
      expect([a.body, a.header('connection')]).to.deep.equal(['ok', 'keep-alive']);
      expect([b.body, b.header('connection'), b.header('keep-alive')]).to.deep.equal(['ok', 'close', undefined]);
      expect((await client.closed(2000)).kind).to.equal('fin');
      expect(client.rest).to.equal('');
      expect(handled).to.deep.equal(['/a?ms=60', '/b?ms=5']);
      expect(ts.policy.stats().closed.policy).to.equal(1);
    });

    it('a drain started while pipelined requests are with their handlers answers them all; the last closes', async () => {
      const handled: string[] = [];
      ts = await fx.start(
        flavor,
        {},
        (req, res) => {
          handled.push(req.url ?? '');
          routes(req, res);
        },
        { attach: true },
      );
      client = await fx.send(get('/a?ms=80') + get('/b?ms=40') + get('/c?ms=60'));
      await eventually(() => handled.length === 3, 'all three reached their handlers');
      const drained = ts.policy.drain({ timeout: 5000 });
      const responses = [await client.response(), await client.response(), await client.response()];
      expect(responses.map((r) => [r.status, r.header('connection')])).to.deep.equal([
        [200, 'keep-alive'],
        [200, 'keep-alive'],
        [200, 'close'],
      ]);
      expect((await client.closed(2000)).kind).to.equal('fin');
      expect(await drained).to.deep.equal({ graceful: 1, destroyed: 0 });
      expect(ts.policy.stats().closed.drain).to.equal(1);
    });

    it('does not run the handler of a request queued behind a decided close', async () => {
      const handled: string[] = [];
      ts = await fx.start(flavor, { maxRequests: 1 }, (req, res) => {
        handled.push(req.url ?? '');
        // The head (which carries the decision) goes out at once, the body later.
        res.setHeader('Content-Type', 'text/plain');
        res.write('a');
        setTimeout(() => res.end('b'), 150);
      });
      client = await fx.connect();
      client.write(get('/one'));
      const head = await client.response({ head: true });
      expect(head.header('connection')).to.equal('close');
      // A second request, sent after the close was decided but before the connection ends.
      client.write(get('/two'));
      expect((await client.closed(2000)).kind).to.equal('fin');
      expect(handled).to.deep.equal(['/one']);
      expect(ts.policy.stats().requests).to.equal(1);
    });
  });
}
