import { expect } from 'chai';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import {
  CLOSE_CHANNEL,
  DECISION_CHANNEL,
  connectionInfo,
  connectionPolicy,
  type CloseMessage,
  type ConnectionPolicy,
  type ConnectionPolicyOptions,
  type DecisionMessage,
} from '../src/index.js';
import { expectReusedConnection, expectResetConnection, probeConnections, recordConnections } from '../src/testing/index.js';
import sinon from 'sinon';
import { RawH2Client } from './helpers/h2-raw.js';
import { RawClient, get } from './helpers/raw.js';
import { eventually } from './helpers/wait.js';
import { TLS } from './helpers/tls.js';

// SPEC §5: node:http2 servers through attach(); a session is a connection, and
// where HTTP/1.1 answers Connection: close the session gets a GOAWAY (NO_ERROR)
// naming the stream that decided; the drain is two-phase (GOAWAY 2^31−1 + PING,
// then GOAWAY naming the last stream processed). Frames are read on a raw socket.

const LAST_POSSIBLE_STREAM = 2 ** 31 - 1;

type Handler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;

/** Answers `ms` ms later (query `ms`) with the request's ConnectionInfo as JSON. */
const slowInfo: Handler = (req, res) => {
  const ms = Number(new URL(req.url, 'http://x').searchParams.get('ms') ?? 0);
  setTimeout(() => res.end(JSON.stringify(connectionInfo(req) ?? null)), ms);
};

describe('HTTP/2 (attach an http2 server)', function () {
  this.timeout(20_000);
  let server: http2.Http2Server | http2.Http2SecureServer | undefined;
  let policy: ConnectionPolicy;
  const closers: Array<() => void> = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) c();
    const s = server;
    server = undefined;
    if (s?.listening) await new Promise<void>((r) => s.close(() => r()));
  });

  async function start(options: ConnectionPolicyOptions, handler: Handler = slowInfo, { attach = true } = {}): Promise<number> {
    policy = connectionPolicy(options);
    server = http2.createServer(handler);
    if (attach) policy.attach(server);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return (server.address() as AddressInfo).port;
  }

  async function raw(port: number, options?: { ackPings?: boolean }): Promise<RawH2Client> {
    const c = await RawH2Client.connect(port, options);
    closers.push(() => c.destroy());
    return c;
  }

  /** One node:http2 client session; each request resolves with its headers and body. */
  function client(url: string) {
    const session = http2.connect(url, { rejectUnauthorized: false });
    session.on('error', () => {});
    closers.push(() => session.destroy());
    return {
      session,
      get: (path: string) =>
        new Promise<{ headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
          const req = session.request({ ':path': path });
          let body = '';
          let headers: http2.IncomingHttpHeaders = {};
          req.on('response', (h) => (headers = h));
          req.setEncoding('utf8');
          req.on('data', (d: string) => (body += d));
          req.on('end', () => resolve({ headers, body }));
          req.on('error', reject);
          req.end();
        }),
    };
  }

  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('a session is one connection: ids from the same sequence, streams as requests, no Connection or Keep-Alive header', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    closers.push(() => process.off('warning', onWarning));
    const port = await start({ exposeConnectionId: true });
    const c = client(`http://127.0.0.1:${port}`);
    const first = await c.get('/');
    const second = await c.get('/');
    const a = JSON.parse(first.body) as { id: number; requests: number; reused: boolean; openedAt: number };
    const b = JSON.parse(second.body) as typeof a;
    expect(a).to.include({ requests: 1, reused: false });
    expect(b).to.include({ id: a.id, requests: 2, reused: true, openedAt: a.openedAt });
    for (const h of [first.headers, second.headers]) {
      expect(h).to.not.have.property('connection');
      expect(h).to.not.have.property('keep-alive');
    }
    expect(second.headers['x-connection-id']).to.equal(`${a.id};req=2`);
    // An HTTP/1.1 connection of another server gets the next id of the same sequence.
    const h1 = http.createServer((req, res) => res.end(String(connectionInfo(req)?.id)));
    const other = connectionPolicy().attach(h1);
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    closers.push(() => other.close());
    const rc = await RawClient.send((other.address() as AddressInfo).port, get('/'));
    closers.push(() => rc.destroy());
    expect(Number((await rc.response()).body)).to.be.greaterThan(a.id);
    expect(policy.stats()).to.deep.include({ open: 1, idle: 1, accepted: 1, requests: 2, reusedRequests: 1 });
    expect(warnings.map((w) => w.name)).to.not.include('UnsupportedWarning');
  });

  it('applies tcpKeepAlive to the socket under a session, and counts a session with a stream open as busy, not idle', async () => {
    const keepAlive = sinon.spy(net.Socket.prototype, 'setKeepAlive');
    closers.push(() => keepAlive.restore());
    let release: (() => void) | undefined;
    const port = await start({ tcpKeepAlive: 30_000 }, (req, res) => {
      res.write('a');
      release = () => res.end('b');
    });
    const c = client(`http://127.0.0.1:${port}`);
    const pending = c.get('/');
    await eventually(() => release !== undefined, 'the stream reached its handler');
    expect(keepAlive.calledWith(true, 30_000), 'setKeepAlive(true, 30000) on the session socket').to.equal(true);
    expect(policy.stats()).to.include({ open: 1, idle: 0 });
    release!();
    expect((await pending).body).to.equal('ab');
    await eventually(() => policy.stats().idle === 1, 'the session idle once its stream closed');
  });

  it('maxRequests: GOAWAY (NO_ERROR) naming the stream that reached it; every stream up to it finishes, then the session closes', async () => {
    const port = await start({ maxRequests: 3 });
    const c = await raw(port);
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const id = c.request('/');
      ids.push(id);
      await eventually(() => c.completed(id), `stream ${id} answered`);
    }
    await eventually(() => c.closed, 'the session closed');
    expect(ids.every((id) => c.ok(id))).to.equal(true);
    const goaways = c.goaways();
    expect(goaways.length).to.be.greaterThan(0);
    for (const g of goaways) expect(g).to.include({ lastStreamId: ids[2], errorCode: 0 });
    // The client sees the connection close before the server's 'close' event counts it.
    await eventually(
      () => policy.stats().closed.maxRequests === 1,
      () => `counted maxRequests: ${JSON.stringify(policy.stats().closed)}`,
    );
  });

  it('maxRequests with streams open at once: those above the deciding stream are not processed', async () => {
    const port = await start({ maxRequests: 2 });
    const c = await raw(port);
    const ids = [c.request('/?ms=50'), c.request('/?ms=50'), c.request('/?ms=50'), c.request('/?ms=50')];
    await eventually(() => c.closed, 'the session closed');
    expect(ids.map((id) => c.completed(id))).to.deep.equal([true, true, false, false]);
    expect(c.goaways()[0]).to.include({ lastStreamId: ids[1], errorCode: 0 });
    expect(policy.stats()).to.deep.include({ requests: 2 });
  });

  it("policy 'close' and a policy function's 'close' end the session after the stream that asked", async () => {
    const seen: Array<{ path: string; requests: number }> = [];
    const port = await start({
      policy: (req, info) => {
        seen.push({ path: req.url ?? '', requests: info.requests });
        return req.url === '/bye' ? 'close' : 'keep-alive';
      },
    });
    const c = await raw(port);
    const a = c.request('/');
    await eventually(() => c.completed(a), 'first answered');
    const b = c.request('/bye');
    await eventually(() => c.closed, 'the session closed');
    expect(c.completed(b)).to.equal(true);
    expect(c.goaways()[0]).to.include({ lastStreamId: b, errorCode: 0 });
    expect(seen).to.deep.equal([
      { path: '/', requests: 1 },
      { path: '/bye', requests: 2 },
    ]);
    // The client sees the connection close before the server's 'close' event counts it.
    await eventually(
      () => policy.stats().closed.policy === 1,
      () => `counted policy: ${JSON.stringify(policy.stats().closed)}`,
    );
  });

  it('the decision channel says keepAlive: false for the stream that triggered the GOAWAY; the close channel counts the session', async () => {
    const decisions: Array<{ keepAlive: boolean; reason: string }> = [];
    const closes: Array<{ reason: string; requests: number }> = [];
    const onDecision = (m: unknown) =>
      decisions.push({ keepAlive: (m as DecisionMessage).keepAlive, reason: (m as DecisionMessage).reason });
    const onClose = (m: unknown) => closes.push({ reason: (m as CloseMessage).reason, requests: (m as CloseMessage).requests });
    subscribe(DECISION_CHANNEL, onDecision);
    subscribe(CLOSE_CHANNEL, onClose);
    closers.push(
      () => unsubscribe(DECISION_CHANNEL, onDecision),
      () => unsubscribe(CLOSE_CHANNEL, onClose),
    );
    const port = await start({ maxRequests: 2 });
    const c = await raw(port);
    const a = c.request('/');
    await eventually(() => c.completed(a), 'first answered');
    c.request('/');
    await eventually(() => closes.length === 1, 'the close message');
    expect(decisions.map((d) => d.keepAlive)).to.deep.equal([true, false]);
    expect(decisions[1]!.reason).to.match(/maxRequests reached \(2\/2\)/);
    expect(closes).to.deep.equal([{ reason: 'maxRequests', requests: 2 }]);
  });

  it('idleTimeout: a session with no open stream gets a GOAWAY naming its last stream, never while a stream is open', async () => {
    const port = await start({ idleTimeout: 300 });
    const c = await raw(port);
    const id = c.request('/?ms=700');
    await eventually(() => c.completed(id), 'the slow stream answered', 3000);
    const answeredAt = c.frames.at(-1)!.at;
    expect(c.goaways(), 'no GOAWAY while the stream was open').to.deep.equal([]);
    await eventually(() => c.goaways().length > 0, 'a GOAWAY', 3000);
    // SPEC §5: never before idleTimeout (5 ms for the two frames' way through the
    // client's event loop), and within 2× of it.
    const idleFor = c.goaways()[0]!.at - answeredAt;
    expect(idleFor).to.be.within(300 - 5, 600);
    expect(c.goaways()[0]).to.include({ lastStreamId: id, errorCode: 0 });
    await eventually(() => c.closed, 'the session closed');
    // The client sees the connection close before the server's 'close' event counts it.
    await eventually(
      () => policy.stats().closed.idleTimeout === 1,
      () => `counted idleTimeout: ${JSON.stringify(policy.stats().closed)}`,
    );
  });

  it("idleTimeout: the GOAWAY never comes before idleTimeout after the last stream, whatever the stream's phase against the checks", async () => {
    // Streams of 310–370 ms end 10–70 ms after one of the session's checks (every
    // 100 ms from its start): a count of quiet checks restarted one check early
    // would send the GOAWAY 930–990 ms after them.
    const port = await start({ idleTimeout: 1000 });
    const clients = await Promise.all([310, 330, 350, 370].map(() => raw(port)));
    const ids = clients.map((c, i) => c.request(`/?ms=${310 + 20 * i}`));
    await eventually(() => clients.every((c) => c.goaways().length > 0), 'a GOAWAY on every session', 5000);
    const gaps = clients.map((c, i) => {
      const last = c.frames.filter((f) => f.streamId === ids[i]).at(-1)!;
      return c.goaways()[0]!.at - last.at;
    });
    for (const gap of gaps) expect(gap, `gaps ${gaps.join(', ')} ms`).to.be.within(1000 - 5, 2000);
  });

  it('a session closed by its client leaves no idle check or maxAge timer behind holding it', async function () {
    // The idle check is an interval per session, the maxAge timer a timeout; once the
    // session has closed both must go, or they keep it (and its socket) from being collected.
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const port = await start({ idleTimeout: 60_000, maxAge: 600_000 });
    const refs: Array<WeakRef<object>> = [];
    server!.on('session', (session) => refs.push(new WeakRef(session)));
    for (let i = 0; i < 20; i++) {
      const c = await raw(port);
      const id = c.request('/');
      await eventually(() => c.completed(id), 'answered');
      c.destroy();
    }
    await eventually(() => policy.stats().open === 0, 'every session closed');
    let alive = refs.length;
    for (let round = 0; round < 20 && alive > 0; round++) {
      await wait(20);
      gc();
      alive = refs.filter((r) => r.deref() !== undefined).length;
    }
    expect(refs).to.have.length(20);
    expect(alive).to.equal(0);
  });

  it('idleTimeout: streams that come and go between its checks keep a session alive', async () => {
    // Checks every tenth of idleTimeout (50 ms) mostly find no stream open, but a
    // stream came since the last one: the session is not idle.
    const port = await start({ idleTimeout: 500 });
    const c = await raw(port);
    for (let i = 0; i < 8; i++) {
      const id = c.request('/');
      await eventually(() => c.completed(id), `stream ${id} answered`);
      await wait(150);
    }
    expect(c.goaways(), 'no GOAWAY while streams kept coming, 1.2 s in all').to.deep.equal([]);
    await eventually(() => c.goaways().length > 0, 'a GOAWAY once idle', 3000);
  });

  it('maxAge: the session gets its GOAWAY at its age even with a stream open, which still finishes', async () => {
    const port = await start({ maxAge: 300, maxAgeJitter: 0 });
    const c = await raw(port);
    const id = c.request('/?ms=800');
    await eventually(() => c.goaways().length > 0, 'a GOAWAY', 3000);
    expect(c.goaways()[0]!.at).to.be.within(240, 600);
    expect(c.goaways()[0]).to.include({ lastStreamId: id, errorCode: 0 });
    expect(c.completed(id)).to.equal(false);
    await eventually(() => c.completed(id) && c.closed, 'the stream answered, then the session closed', 3000);
    expect(c.ok(id)).to.equal(true);
    // The client sees the connection close before the server's 'close' event counts it.
    await eventually(
      () => policy.stats().closed.maxAge === 1,
      () => `counted maxAge: ${JSON.stringify(policy.stats().closed)}`,
    );
  });

  it('drain: GOAWAY 2^31−1 and a PING, then on the ACK a GOAWAY naming the last stream; the stream in flight finishes', async () => {
    const port = await start({});
    const c = await raw(port);
    const id = c.request('/?ms=300');
    await wait(50);
    const result = await policy.drain({ timeout: 3000 });
    expect(result).to.deep.equal({ graceful: 1, destroyed: 0 });
    const goaways = c.goaways();
    expect(goaways[0]).to.include({ lastStreamId: LAST_POSSIBLE_STREAM, errorCode: 0 });
    expect(goaways[1]).to.include({ lastStreamId: id, errorCode: 0 });
    expect(c.pings()).to.have.length(1);
    // The second GOAWAY followed the PING's ACK, not the one-second fallback.
    expect(goaways[1]!.at - goaways[0]!.at).to.be.below(500);
    expect(c.completed(id) && c.ok(id)).to.equal(true);
    expect(policy.stats().closed).to.include({ drain: 1 });
  });

  it('drain: without an ACK the second GOAWAY goes out a second after the PING, while the stream is still open', async () => {
    const port = await start({});
    const c = await raw(port, { ackPings: false });
    const id = c.request('/?ms=1600');
    await wait(50);
    expect(await policy.drain({ timeout: 5000 })).to.deep.equal({ graceful: 1, destroyed: 0 });
    const goaways = c.goaways();
    expect(goaways[0]).to.include({ lastStreamId: LAST_POSSIBLE_STREAM });
    expect(goaways[1]).to.include({ lastStreamId: id });
    // SPEC §5: two phases on every line. (Node 24 and later's server.close() sends
    // every session a GOAWAY naming its last stream at once: the drain must not let
    // it overtake the first phase.)
    expect(goaways[1]!.at - goaways[0]!.at).to.be.within(800, 2000);
    expect(c.completed(id) && c.ok(id)).to.equal(true);
  });

  it('drain: an idle session gets GOAWAY 2^31−1, then GOAWAYs naming its last stream, and closes', async () => {
    const port = await start({});
    const c = await raw(port, { ackPings: false });
    const id = c.request('/');
    await eventually(() => c.completed(id), 'answered');
    expect(await policy.drain({ timeout: 5000 })).to.deep.equal({ graceful: 1, destroyed: 0 });
    const goaways = c.goaways();
    expect(goaways[0]).to.include({ lastStreamId: LAST_POSSIBLE_STREAM });
    expect(goaways.slice(1).map((g) => g.lastStreamId))
      .to.include(id)
      .and.not.include(LAST_POSSIBLE_STREAM);
    // node:http2 stops reading an idle session after the first GOAWAY (measured on
    // 20.20 and 22.23), so its PING's ACK is never read: the second GOAWAY waits for
    // the one-second fallback, on every line (SPEC §5).
    expect(goaways[1]!.at - goaways[0]!.at).to.be.within(800, 2000);
  });

  it('drain: a stream that never ends is destroyed at timeout and counted destroyed', async () => {
    const port = await start({}, (req, res) => res.write('never ends'));
    const c = await raw(port);
    c.request('/');
    await wait(50);
    const started = Date.now();
    expect(await policy.drain({ timeout: 300 })).to.deep.equal({ graceful: 0, destroyed: 1 });
    expect(Date.now() - started).to.be.within(240, 600);
    await eventually(() => c.closed, 'the connection closed');
  });

  it('drainSignal(req) on an HTTP/2 request: aborted by the drain, and the stream ends cleanly', async () => {
    const port = await start({}, (req, res) => {
      res.write('data: 1\n\n');
      policy.drainSignal(req).addEventListener('abort', () => res.end('data: bye\n\n'));
    });
    const c = await raw(port);
    const id = c.request('/');
    await eventually(() => c.frames.some((f) => f.streamId === id), 'the stream began');
    expect(await policy.drain({ timeout: 3000 })).to.deep.equal({ graceful: 1, destroyed: 0 });
    expect(c.completed(id)).to.equal(true);
  });

  it('the middleware alone leaves HTTP/2 requests alone: no ConnectionInfo, no header', async () => {
    let info: unknown = 'unset';
    const port = await start(
      { exposeConnectionId: true },
      (req, res) => {
        policy(req as never, res as never, () => {
          info = connectionInfo(req);
          res.end('ok');
        });
      },
      { attach: false },
    );
    const c = client(`http://127.0.0.1:${port}`);
    const res = await c.get('/');
    expect(res.body).to.equal('ok');
    expect(info).to.equal(undefined);
    expect(res.headers).to.not.have.property('x-connection-id');
    expect(policy.stats().requests).to.equal(0);
  });

  it('a session that sends garbage, or vanishes mid-stream, is counted and never stalls a drain', async () => {
    const port = await start({}, (req, res) => setTimeout(() => res.end('late'), 200));
    const garbage = net.connect(port, '127.0.0.1');
    garbage.on('error', () => {});
    closers.push(() => garbage.destroy());
    garbage.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nthis is not a frame at all, not even close........');
    const c = await raw(port);
    c.request('/');
    await wait(50);
    c.destroy();
    await eventually(() => policy.stats().open === 0, 'both sessions closed');
    // The garbage is a protocol error (the session emits 'error'); the other client just went.
    expect(policy.stats().closed).to.include({ error: 1, client: 1 });
    expect(await policy.drain({ timeout: 2000 })).to.deep.equal({ graceful: 0, destroyed: 0 });
  });

  it('a client that resets its streams leaves the session idle and counted right; one that vanishes mid-drain never stalls it', async () => {
    const port = await start({}, (req, res) => setTimeout(() => res.end('late'), 2000));
    const c = client(`http://127.0.0.1:${port}`);
    const req = c.session.request({ ':path': '/' });
    req.on('error', () => {});
    await eventually(() => policy.stats().requests === 1, 'the stream reached the server');
    req.close(http2.constants.NGHTTP2_CANCEL);
    await eventually(() => policy.stats().idle === 1, 'the session idle again');
    // A second session with a stream in flight vanishes while the drain waits for it.
    const d = await raw(port);
    d.request('/');
    await eventually(() => policy.stats().requests === 2, 'the second stream reached the server');
    const started = Date.now();
    const drained = policy.drain({ timeout: 5000 });
    await wait(100);
    d.destroy();
    c.session.destroy();
    expect(await drained).to.deep.equal({ graceful: 2, destroyed: 0 });
    expect(Date.now() - started).to.be.below(1500);
    const closed = policy.stats().closed;
    expect(Object.values(closed).reduce((a, b) => a + b, 0)).to.equal(2);
  });

  it('attach() of anything else throws a TypeError that names what it got', () => {
    const p = connectionPolicy();
    expect(() => p.attach({} as never)).to.throw(
      TypeError,
      /^attach\(server\): expected an http, https or http2 server; got \{\}/,
    );
    expect(() => p.attach(net.createServer() as never)).to.throw(TypeError, /got Server \{/);
    expect(() => p.attach(undefined as never)).to.throw(TypeError, /got undefined/);
    // What it got, shallow and on one line: an error message, not a dump.
    const deep = { a: { b: { c: {} } }, list: Array.from({ length: 30 }, (_, i) => `item-${i}`) };
    expect(() => p.attach(deep as never)).to.throw(TypeError, /got \{ a: \[Object\], list: \[Array\] \}$/);
  });

  describe('the test helpers with { http2: true }', () => {
    it('probeConnections: one session carries every request (prior knowledge on http:), the server agrees', async () => {
      const probed: Array<string | string[] | undefined> = [];
      const port = await start({ exposeConnectionId: true }, (req, res) => {
        probed.push(req.headers['x-probe']);
        slowInfo(req, res);
      });
      const report = await probeConnections(`http://127.0.0.1:${port}/`, {
        http2: true,
        requests: 4,
        headers: { 'x-probe': 'h2' },
      });
      expect(probed).to.deep.equal(['h2', 'h2', 'h2', 'h2']);
      expect(report.sockets).to.equal(1);
      expect(report.serverConnections).to.equal(1);
      expect(report.requests.map((r) => [r.status, r.socket, r.reused])).to.deep.equal([
        [200, 1, false],
        [200, 1, true],
        [200, 1, true],
        [200, 1, true],
      ]);
      expect(report.requests[3]!.serverConnection).to.match(/;req=4$/);
    });

    it('expectReusedConnection passes on a keep-alive server and fails where every stream ends its session', async () => {
      const port = await start({ maxRequests: 1 });
      const url = `http://127.0.0.1:${port}/`;
      const reset = await expectResetConnection(url, { http2: true, requests: 3 });
      expect(reset.sockets).to.equal(3);
      const err = await expectReusedConnection(url, { http2: true, requests: 3 }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.name).to.equal('AssertionError');
    });

    it('over TLS the session is negotiated with ALPN, and a server that is not listening is started and closed', async () => {
      policy = connectionPolicy();
      const secure = policy.attach(http2.createSecureServer(TLS, slowInfo));
      const report = await expectReusedConnection(secure, { http2: true, requests: 3 });
      expect(report.sockets).to.equal(1);
      expect(secure.listening).to.equal(false);
      expect(policy.stats()).to.deep.include({ accepted: 1, requests: 3, reusedRequests: 2 });
    });

    it("recordConnections(http2 server): a session is a connection, so an HTTP/2 client's reuse is proven", async () => {
      const port = await start({});
      const recorder = await recordConnections(server!);
      closers.push(() => void recorder.close());
      const c = client(`http://127.0.0.1:${port}`);
      for (let i = 0; i < 3; i++) await c.get(`/n${i}`);
      await expectReusedConnection(recorder, { connections: 1, requests: 3 });
      expect(recorder.requests.map((r) => [r.method, r.path, r.connection, r.ordinal, r.status])).to.deep.equal([
        ['GET', '/n0', 1, 1, 200],
        ['GET', '/n1', 1, 2, 200],
        ['GET', '/n2', 1, 3, 200],
      ]);
      const other = client(`http://127.0.0.1:${port}`);
      await other.get('/');
      const err = await expectReusedConnection(recorder, { connections: 1 }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).to.match(/expected every connection to carry more than one/);
    });
  });

  describe('recordConnections(http2 server): what it starts and stops', () => {
    it('close() ends the open sessions of a server it started; a stream reset unanswered has no status', async () => {
      const own = http2.createServer((req, res) => {
        if (req.url !== '/never') res.end('ok');
      });
      const streams: http2.ServerHttp2Stream[] = [];
      own.on('stream', (stream) => streams.push(stream));
      const recorder = await recordConnections(own);
      closers.push(() => void recorder.close());
      const c = client(recorder.url.slice(0, -1));
      await c.get('/');
      const cancelled = c.session.request({ ':path': '/never' });
      cancelled.on('error', () => {});
      while (streams.length < 2) await wait(5);
      // The recorder's own 'close' listener on the stream was added first, so has run by then.
      const serverSide = new Promise((resolve) => streams[1]!.once('close', resolve));
      cancelled.close(http2.constants.NGHTTP2_CANCEL);
      await serverSide;
      expect(recorder.requests.map((r) => [r.path, r.status])).to.deep.equal([
        ['/', 200],
        ['/never', undefined],
      ]);
      expect(recorder.requests[1]).to.not.have.property('status');
      // The client's session is still open.
      await recorder.close();
      expect(own.listening).to.equal(false);
      await new Promise<void>((resolve) => (c.session.destroyed ? resolve() : c.session.once('close', () => resolve())));
    });

    it('close() on a server it did not start stops recording and leaves the server running', async () => {
      const port = await start({});
      const listeners = () => ['stream', 'session', 'request'].map((name) => server!.listenerCount(name));
      const before = listeners();
      const recorder = await recordConnections(server!);
      closers.push(() => void recorder.close());
      const c = client(`http://127.0.0.1:${port}`);
      await c.get('/');
      await recorder.close();
      expect(listeners()).to.deep.equal(before);
      await c.get('/');
      expect(recorder.requests.map((r) => r.path)).to.deep.equal(['/']);
      expect(server!.listening).to.equal(true);
    });
  });

  describe('allowHTTP1 (TLS)', () => {
    async function startSecure(options: ConnectionPolicyOptions): Promise<number> {
      policy = connectionPolicy(options);
      server = policy.attach(http2.createSecureServer({ ...TLS, allowHTTP1: true }, slowInfo));
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
      return (server.address() as AddressInfo).port;
    }

    /** HTTP/1.1 over TLS on one keep-alive socket; each response with its headers. */
    function https11(port: number) {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
      closers.push(() => agent.destroy());
      return (path: string) =>
        new Promise<{ headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
          https
            .get({ host: '127.0.0.1', port, path, agent }, (res) => {
              let body = '';
              res.on('data', (d) => (body += d));
              res.on('end', () => resolve({ headers: res.headers, body }));
            })
            .on('error', reject);
        });
    }

    it('HTTP/1.1 connections get the HTTP/1.1 policy (hint, maxRequests with Connection: close), HTTP/2 ones GOAWAY', async () => {
      const port = await startSecure({ maxRequests: 2, idleTimeout: 10_000 });
      const get11 = https11(port);
      const first = await get11('/');
      const second = await get11('/');
      expect(first.headers.connection).to.equal('keep-alive');
      expect(first.headers['keep-alive']).to.equal('timeout=9, max=1');
      expect(second.headers.connection).to.equal('close');
      const a = JSON.parse(first.body) as { id: number; requests: number };
      expect(JSON.parse(second.body)).to.include({ id: a.id, requests: 2 });
      const c = client(`https://127.0.0.1:${port}`);
      const h2first = await c.get('/');
      expect(h2first.headers).to.not.have.property('connection');
      await c.get('/');
      await eventually(() => c.session.closed || c.session.destroyed, 'the HTTP/2 session closed after maxRequests');
      await eventually(() => policy.stats().closed.maxRequests === 2, 'both connections counted as maxRequests');
    });

    it('HTTP/1.1 connections are closed after idleTimeout, as on an http server', async () => {
      const port = await startSecure({ idleTimeout: 300 });
      const c = await RawClient.connect(port, '127.0.0.1', { secure: true });
      closers.push(() => c.destroy());
      c.write(get('/'));
      const res = await c.response();
      expect(res.header('keep-alive')).to.equal('timeout=1');
      const closed = await c.closed(2000);
      expect(closed.kind).to.equal('fin');
      expect(closed.afterMs).to.be.within(240, 600);
      await eventually(() => policy.stats().closed.idleTimeout === 1, 'counted idleTimeout');
    });
  });
});
