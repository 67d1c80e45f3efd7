import { expect } from 'chai';
import diagnostics from 'node:diagnostics_channel';
import { DECISION_CHANNEL, type DecisionMessage } from '../src/index.js';
import { RawClient, get, request } from './helpers/raw.js';
import { expectResetConnection, expectReusedConnection } from '../src/testing/index.js';
import { FLAVORS, routes, startServer, type TestServer } from './helpers/servers.js';

const thrower = (): never => {
  throw new Error('boom');
};

// SPEC §1 rules 1–5 on the wire, for Express 5, Express 4 and plain node:http.
for (const flavor of FLAVORS) {
  describe(`connectionPolicy() persistence (${flavor})`, () => {
    let ts: TestServer;
    const clients: RawClient[] = [];
    const connect = async (payload: string) => {
      const c = await RawClient.send(ts.port, payload);
      clients.push(c);
      return c;
    };
    afterEach(async () => {
      for (const c of clients.splice(0)) c.destroy();
      await ts?.close();
    });

    describe('HTTP/1.1 by default', () => {
      beforeEach(async () => {
        ts = await startServer(flavor, {}, routes);
      });

      it('keeps the connection alive and says so once', async () => {
        const c = await connect(get('/'));
        const res = await c.response();
        expect(res.status).to.equal(200);
        expect(res.header('connection')).to.equal('keep-alive');
        expect(res.count('keep-alive')).to.equal(1);
        expect(res.header('keep-alive')).to.equal('timeout=64');
        expect((await c.closed(300)).kind).to.equal('open');
        c.write(get('/'));
        expect((await c.response()).status).to.equal(200);
        expect(ts.accepted).to.equal(1);
      });

      it('keeps chunked (streamed) responses alive', async () => {
        const c = await connect(get('/stream'));
        const res = await c.response();
        expect(res.body).to.equal('ab');
        expect(res.header('transfer-encoding')).to.equal('chunked');
        expect(res.header('connection')).to.equal('keep-alive');
        expect((await c.closed(200)).kind).to.equal('open');
      });

      it('keeps 204 responses alive', async () => {
        const c = await connect(get('/204'));
        const res = await c.response();
        expect(res.status).to.equal(204);
        expect(res.header('connection')).to.equal('keep-alive');
        expect((await c.closed(200)).kind).to.equal('open');
      });
    });

    describe('as a keep-alive client sees it', () => {
      it("reuses one connection under 'keep-alive'", async () => {
        ts = await startServer(flavor, {}, routes);
        const report = await expectReusedConnection(ts.server, { requests: 5 });
        expect(ts.accepted).to.equal(1);
        expect(report.requests.every((r) => r.keepAlive === 'timeout=64')).to.equal(true);
      });

      it("uses a new connection per request under 'close'", async () => {
        ts = await startServer(flavor, { policy: 'close' }, routes);
        await expectResetConnection(ts.server, { requests: 5 });
        expect(ts.accepted).to.equal(5);
      });
    });

    describe('rule 1: the client sends Connection: close', () => {
      beforeEach(async () => {
        ts = await startServer(flavor, {}, routes);
      });
      const spellings: Array<[string, string[]]> = [
        ['close', ['Connection: close']],
        ['Close', ['Connection: Close']],
        ['CLOSE', ['Connection: CLOSE']],
        ['with spaces', ['Connection:    close   ']],
        ['in a list', ['Connection: keep-alive, close']],
        ['mid-list without spaces', ['Connection: foo,close,bar']],
        ['two headers', ['Connection: keep-alive', 'Connection: close']],
        ['two headers, close first', ['Connection: close', 'Connection: TE']],
      ];
      for (const [label, lines] of spellings) {
        it(`closes after the response (${label})`, async () => {
          const c = await connect(get('/', ...lines));
          const res = await c.response();
          expect(res.header('connection')).to.equal('close');
          expect(res.count('keep-alive')).to.equal(0);
          const closed = await c.closed(2000);
          expect(closed.kind).to.equal('fin');
        });
      }

      it('overrides a handler that set Connection: keep-alive', async () => {
        const c = await connect(get('/?connection=keep-alive', 'Connection: close'));
        const res = await c.response();
        expect(res.header('connection')).to.equal('close');
        expect((await c.closed(2000)).kind).to.equal('fin');
      });

      it('does not mistake other tokens for close', async () => {
        const c = await connect(get('/', 'Connection: closed, xclose, close-ish'));
        const res = await c.response();
        expect(res.header('connection')).to.equal('keep-alive');
        expect((await c.closed(200)).kind).to.equal('open');
      });
    });

    describe('rule 2: the handler sets Connection', () => {
      beforeEach(async () => {
        ts = await startServer(flavor, {}, routes);
      });

      it('lets a handler close stand, and sends the FIN after the full response', async () => {
        const c = await connect(get('/stream?connection=close'));
        const res = await c.response();
        expect(res.body).to.equal('ab');
        expect(res.header('connection')).to.equal('close');
        expect(res.count('keep-alive')).to.equal(0);
        expect((await c.closed(2000)).kind).to.equal('fin');
      });

      it('honours a handler keep-alive where persistence is allowed, with one hint', async () => {
        // Its own spelling: the field is the handler's, not rewritten.
        const c = await connect(get('/?connection=Keep-Alive'));
        const res = await c.response();
        expect(res.header('connection')).to.equal('Keep-Alive');
        expect(res.count('connection')).to.equal(1);
        expect(res.count('keep-alive')).to.equal(1);
        expect((await c.closed(200)).kind).to.equal('open');
      });
    });

    describe('rule 3: HTTP/1.0', () => {
      beforeEach(async () => {
        ts = await startServer(flavor, {}, routes);
      });

      it('closes a request without keep-alive', async () => {
        const c = await connect(request('GET', '/', 'HTTP/1.0'));
        const res = await c.response();
        expect(res.header('connection')).to.equal('close');
        expect(res.count('keep-alive')).to.equal(0);
        expect((await c.closed(2000)).kind).to.equal('fin');
      });

      it('keeps a request with keep-alive alive and answers Connection: keep-alive', async () => {
        const c = await connect(request('GET', '/', 'HTTP/1.0', ['Connection: Keep-Alive']));
        const res = await c.response();
        expect(res.header('connection')).to.equal('keep-alive');
        expect(res.header('keep-alive')).to.equal('timeout=64');
        expect((await c.closed(200)).kind).to.equal('open');
        c.write(request('GET', '/', 'HTTP/1.0', ['Connection: keep-alive']));
        expect((await c.response()).status).to.equal(200);
        expect(ts.accepted).to.equal(1);
      });

      it('closes when a streamed body can only be delimited by closing', async () => {
        const c = await connect(request('GET', '/stream', 'HTTP/1.0', ['Connection: keep-alive']));
        const closed = c.closed(2000);
        const res = await c.response();
        expect(res.header('connection')).to.equal('close');
        expect(res.body).to.equal('ab');
        expect((await closed).kind).to.equal('fin');
      });

      // A body Node delimits without a length: HEAD, 204 and 304 have none (RFC 9112 §6.3).
      for (const [method, path] of [
        ['HEAD', '/stream'],
        ['GET', '/204'],
        ['GET', '/304'],
      ] as const) {
        it(`keeps a ${method} ${path} without Content-Length alive (no body to delimit)`, async () => {
          const c = await connect(request(method, path, 'HTTP/1.0', ['Connection: keep-alive']));
          const res = await c.response(method === 'HEAD' ? { head: true } : {});
          expect(res.header('content-length')).to.equal(undefined);
          expect(res.header('connection')).to.equal('keep-alive');
          expect(res.count('keep-alive')).to.equal(1);
          expect((await c.closed(200)).kind).to.equal('open');
        });
      }

      it('does not let a handler keep-alive override a missing keep-alive', async () => {
        const c = await connect(request('GET', '/?connection=keep-alive', 'HTTP/1.0'));
        const res = await c.response();
        expect(res.header('connection')).to.equal('close');
        expect((await c.closed(2000)).kind).to.equal('fin');
      });
    });

    describe("rule 4: policy 'close'", () => {
      beforeEach(async () => {
        ts = await startServer(flavor, { policy: 'close' }, routes);
      });

      it('closes after every response', async () => {
        const c = await connect(get('/'));
        const res = await c.response();
        expect(res.header('connection')).to.equal('close');
        expect(res.count('keep-alive')).to.equal(0);
        expect((await c.closed(2000)).kind).to.equal('fin');
      });

      it('closes streamed responses after the last chunk', async () => {
        const c = await connect(get('/stream'));
        const res = await c.response();
        expect(res.body).to.equal('ab');
        expect(res.header('connection')).to.equal('close');
        expect((await c.closed(2000)).kind).to.equal('fin');
      });
    });

    describe('rule 4: a policy function', () => {
      it('decides per request and sees the connection info', async () => {
        const seen: Array<[string | undefined, number, boolean]> = [];
        ts = await startServer(
          flavor,
          {
            policy: (req, info) => {
              seen.push([req.url, info.requests, info.reused]);
              return req.url === '/bye' ? 'close' : 'keep-alive';
            },
          },
          routes,
        );
        const c = await connect(get('/hello'));
        expect((await c.response()).header('connection')).to.equal('keep-alive');
        c.write(get('/bye'));
        expect((await c.response()).header('connection')).to.equal('close');
        expect((await c.closed(2000)).kind).to.equal('fin');
        expect(seen).to.deep.equal([
          ['/hello', 1, false],
          ['/bye', 2, true],
        ]);
      });

      // The answer is given at head time here (not at arrival): the head is written
      // by the policy, with one Connection and one Keep-Alive field.
      it('writes one Connection: keep-alive and one hint, with the requests left', async () => {
        ts = await startServer(flavor, { policy: () => 'keep-alive', maxRequests: 5 }, routes);
        const c = await connect(get('/'));
        let res = await c.response();
        expect([res.header('connection'), res.count('connection')]).to.deep.equal(['keep-alive', 1]);
        expect([res.header('keep-alive'), res.count('keep-alive')]).to.deep.equal(['timeout=64, max=4', 1]);
        c.write(get('/?connection=keep-alive'));
        res = await c.response();
        expect([res.header('connection'), res.count('connection')]).to.deep.equal(['keep-alive', 1]);
        expect([res.header('keep-alive'), res.count('keep-alive')]).to.deep.equal(['timeout=64, max=3', 1]);
      });

      it('writes no hint with advertise: false', async () => {
        ts = await startServer(flavor, { policy: () => 'keep-alive', advertise: false }, routes);
        const c = await connect(get('/'));
        const res = await c.response();
        expect([res.header('connection'), res.count('connection')]).to.deep.equal(['keep-alive', 1]);
        expect(res.count('keep-alive')).to.equal(0);
        expect((await c.closed(200)).kind).to.equal('open');
      });

      it("closes on a function's 'close' as its own answer: no warning, and the function named as the reason", async () => {
        const reasons: string[] = [];
        const seen = (message: unknown) => reasons.push((message as DecisionMessage).reason);
        const warnings: Error[] = [];
        const onWarning = (w: Error) => warnings.push(w);
        diagnostics.subscribe(DECISION_CHANNEL, seen);
        process.on('warning', onWarning);
        try {
          ts = await startServer(flavor, { policy: () => 'close' }, routes);
          const c = await connect(get('/'));
          expect((await c.response()).header('connection')).to.equal('close');
          await new Promise((resolve) => setImmediate(resolve));
          expect(reasons).to.deep.equal(["policy function answered 'close'"]);
          expect(warnings).to.deep.equal([]);
        } finally {
          diagnostics.unsubscribe(DECISION_CHANNEL, seen);
          process.off('warning', onWarning);
        }
      });

      it("closes after an answer that is neither 'keep-alive' nor 'close', and says why", async () => {
        const reasons: string[] = [];
        const seen = (message: unknown) => reasons.push((message as DecisionMessage).reason);
        diagnostics.subscribe(DECISION_CHANNEL, seen);
        try {
          ts = await startServer(
            flavor,
            { policy: (req) => (req.url === '/throw' ? thrower() : ('maybe' as unknown as 'close')) },
            routes,
          );
          const c = await connect(get('/'));
          expect((await c.response()).header('connection')).to.equal('close');
          const d = await connect(get('/throw'));
          expect((await d.response()).header('connection')).to.equal('close');
          expect(reasons).to.deep.equal([
            "policy function (invalid answer maybe) answered 'close'",
            "policy function (threw) answered 'close'",
          ]);
        } finally {
          diagnostics.unsubscribe(DECISION_CHANNEL, seen);
        }
      });

      it('warns once for each function that fails (CONNECTION_POLICY_FUNCTION), however often it fails', async () => {
        const warnings: Array<Error & { code?: string }> = [];
        const onWarning = (w: Error) => warnings.push(w);
        process.on('warning', onWarning);
        try {
          ts = await startServer(
            flavor,
            { policy: (req) => (req.url === '/throw' ? thrower() : ('maybe' as unknown as 'close')) },
            routes,
          );
          for (const path of ['/', '/', '/throw', '/throw']) {
            const c = await connect(get(path));
            expect((await c.response()).header('connection')).to.equal('close');
          }
          await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
          expect(warnings.map((w) => [w.code, w.message])).to.deep.equal([
            [
              'CONNECTION_POLICY_FUNCTION',
              "connectionPolicy: the policy function returned maybe; it must return 'keep-alive' or 'close'. The connection is closed.",
            ],
          ]);
          // Another function is reported on its own.
          await ts.close();
          ts = await startServer(flavor, { policy: () => thrower() }, routes);
          await (await connect(get('/'))).response();
          await new Promise((resolve) => setImmediate(resolve));
          expect(warnings).to.have.length(2);
          expect(warnings[1]!.message).to.match(/^connectionPolicy: the policy function threw Error: /);
        } finally {
          process.off('warning', onWarning);
        }
      });

      it('closes (and does not throw into the handler) when the function throws', async () => {
        ts = await startServer(
          flavor,
          {
            policy: () => {
              throw new Error('boom');
            },
          },
          routes,
        );
        const c = await connect(get('/'));
        const res = await c.response();
        expect(res.status).to.equal(200);
        expect(res.header('connection')).to.equal('close');
      });
    });
  });
}
