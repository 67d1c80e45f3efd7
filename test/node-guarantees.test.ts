import { expect } from 'chai';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { RawClient, get } from './helpers/raw.js';
import { closeServer, listen } from './helpers/servers.js';
import { UPGRADE, acceptUpgrades } from './helpers/upgrade.js';
import { eventually } from './helpers/wait.js';
import { connectionInfo, connectionPolicy, type ConnectionPolicy } from '../src/index.js';
import { CLOSE_CHANNEL, DECISION_CHANNEL } from '../src/index.js';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';

// SPEC §1 attach(): what Node guarantees still holds with the policy attached. Each
// scenario is one of Node's own tests (test/parallel/test-http-*.js, test-http2-*.js)
// reduced to what goes over the wire, run here with the policy attached.

/** Two Duplex streams wired to each other: what Node's docs allow `server.emit('connection', stream)` to take. */
function duplexPair(): [Duplex, Duplex] {
  const sides: Duplex[] = [];
  const make = (other: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        other().push(chunk);
        callback();
      },
      final(callback) {
        other().push(null);
        callback();
      },
    });
  sides.push(
    make(() => sides[1]!),
    make(() => sides[0]!),
  );
  return [sides[0]!, sides[1]!];
}

describe('attach() keeps what Node guarantees', function () {
  this.timeout(10_000);
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  function serve<S extends net.Server>(server: S): S {
    cleanups.push(() => {
      if (!server.listening) return undefined;
      if (server instanceof http.Server) return closeServer(server);
      return new Promise((resolve) => server.close(resolve));
    });
    return server;
  }
  async function connect(port: number): Promise<RawClient> {
    const c = await RawClient.connect(port);
    cleanups.push(() => c.destroy());
    return c;
  }

  it("changes only the Node defaults docs/decisions.md lists (its table's values)", () => {
    const bare = http.createServer();
    const fields = (s: http.Server) => ({
      keepAliveTimeout: s.keepAliveTimeout,
      headersTimeout: s.headersTimeout,
      requestTimeout: s.requestTimeout,
      timeout: s.timeout,
      maxRequestsPerSocket: s.maxRequestsPerSocket,
      noDelay: (s as http.Server & { noDelay?: boolean }).noDelay,
      keepAlive: (s as http.Server & { keepAlive?: boolean }).keepAlive,
    });
    const node = fields(bare);
    expect(node).to.deep.equal({
      keepAliveTimeout: 5000,
      headersTimeout: 60_000,
      requestTimeout: 300_000,
      timeout: 0,
      maxRequestsPerSocket: 0,
      noDelay: true,
      keepAlive: false,
    });
    const attached = fields(connectionPolicy().attach(http.createServer()));
    expect(attached).to.deep.equal({ ...node, keepAliveTimeout: 64_000 });
  });

  describe('a server fed a generic Duplex (server.emit("connection", stream))', () => {
    for (const noDelay of [true, false]) {
      it(`HTTP/1.1 answers over it as without the policy (noDelay: ${noDelay})`, async () => {
        const policy = connectionPolicy({ noDelay, tcpKeepAlive: 1000, idleTimeout: 300 });
        const server = policy.attach(http.createServer((req, res) => res.end(`hello ${req.url}`)));
        const [serverSide, clientSide] = duplexPair();
        cleanups.push(() => (serverSide.destroy(), clientSide.destroy()));
        server.emit('connection', serverSide);
        const body = await new Promise<string>((resolve, reject) => {
          const req = http.request({ createConnection: () => clientSide, path: '/generic' }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('end', () => resolve(text));
          });
          req.on('error', reject);
          req.end();
        });
        expect(body).to.equal('hello /generic');
        expect(policy.stats()).to.include({ accepted: 1, requests: 1 });
      });
    }

    it('HTTP/2 answers over it as without the policy', async () => {
      const policy = connectionPolicy({ tcpKeepAlive: 1000 });
      const server = policy.attach(http2.createServer((req, res) => res.end(`h2 ${req.url}`)));
      const [serverSide, clientSide] = duplexPair();
      cleanups.push(() => (serverSide.destroy(), clientSide.destroy()));
      server.emit('connection', serverSide);
      const session = http2.connect('http://localhost', { createConnection: () => clientSide });
      cleanups.push(() => session.destroy());
      const body = await new Promise<string>((resolve, reject) => {
        const req = session.request({ ':path': '/generic' });
        let text = '';
        req.setEncoding('utf8');
        req.on('data', (d: string) => (text += d));
        req.on('end', () => resolve(text));
        req.on('error', reject);
      });
      expect(body).to.equal('h2 /generic');
      expect(policy.stats()).to.include({ accepted: 1, requests: 1 });
    });
  });

  describe("an HTTP/2 server that uses only the 'stream' API", () => {
    let policy: ConnectionPolicy;
    async function streamServer(onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void) {
      policy = connectionPolicy({ exposeConnectionId: true });
      const server = serve(policy.attach(http2.createServer()));
      server.on('stream', onStream);
      const port = await listen(server as unknown as http.Server);
      const session = http2.connect(`http://127.0.0.1:${port}`);
      session.on('error', () => {});
      cleanups.push(() => session.destroy());
      return { server, session, port };
    }

    it('gets its trailers through (sendTrailers after waitForTrailers)', async () => {
      const { session } = await streamServer((stream) => {
        stream.respond({ ':status': 200 }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-trailer': 'yes' }));
        stream.end('body');
      });
      const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        const req = session.request({ ':path': '/' });
        req.on('trailers', resolve);
        req.on('error', reject);
        req.resume();
      });
      expect(trailers['x-trailer']).to.equal('yes');
    });

    it('answers CONNECT itself (no 405 from the compatibility layer)', async () => {
      const { session } = await streamServer((stream, headers) => {
        expect(headers[':method']).to.equal('CONNECT');
        stream.respond({ ':status': 200 });
        stream.end('tunnel');
      });
      const [status, body] = await new Promise<[number, string]>((resolve, reject) => {
        const req = session.request({ ':method': 'CONNECT', ':authority': 'example.test:443' });
        let statusCode = 0;
        let text = '';
        req.on('response', (h) => (statusCode = Number(h[':status'])));
        req.setEncoding('utf8');
        req.on('data', (d: string) => (text += d));
        req.on('end', () => resolve([statusCode, text]));
        req.on('error', reject);
      });
      expect([status, body]).to.deep.equal([200, 'tunnel']);
    });

    it('answers a request with an unknown Expect as the app says (no 417)', async () => {
      const { session } = await streamServer((stream) => {
        stream.respond({ ':status': 200 });
        stream.end();
      });
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ':path': '/', expect: 'x-custom' });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.resume();
      });
      expect(status).to.equal(200);
    });

    it('leaves a stream error unhandled, as Node does: nobody else listens for it', async () => {
      // Node's compatibility layer adds a no-op 'error' listener to every stream, so
      // stream.destroy(err) stops surfacing as an uncaught error (test-http2-server-errors).
      const listeners: number[] = [];
      const errors: string[] = [];
      const { session } = await streamServer((stream) => {
        listeners.push(stream.listenerCount('error'));
        stream.on('error', (err: Error) => errors.push(err.message));
        stream.destroy(new Error('kaboom'));
      });
      await new Promise<void>((resolve) => {
        const req = session.request({ ':path': '/' });
        req.on('error', () => resolve());
        req.on('close', () => resolve());
        req.resume();
      });
      await eventually(() => errors.length > 0, 'the stream error');
      expect([listeners, errors]).to.deep.equal([[0], ['kaboom']]);
    });

    it('asks a policy function with a view of the request (method, url, headers), and drainSignal(stream) works', async () => {
      const seen: Array<[unknown, unknown, unknown]> = [];
      policy = connectionPolicy({
        policy: (req) => {
          seen.push([req.method, req.url, req.headers['x-who']]);
          return req.url === '/bye' ? 'close' : 'keep-alive';
        },
      });
      const server = serve(policy.attach(http2.createServer()));
      const signals: AbortSignal[] = [];
      server.on('stream', (stream) => {
        signals.push(policy.drainSignal(stream));
        stream.respond({ ':status': 200 });
        stream.end('ok');
      });
      const port = await listen(server as unknown as http.Server);
      const session = http2.connect(`http://127.0.0.1:${port}`);
      session.on('error', () => {});
      cleanups.push(() => session.destroy());
      const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
      for (const path of ['/hi', '/bye']) {
        await new Promise<void>((resolve, reject) => {
          const req = session.request({ ':path': path, 'x-who': 'me' });
          req.on('end', resolve);
          req.on('error', reject);
          req.resume();
        });
      }
      await goaway;
      expect(seen).to.deep.equal([
        ['GET', '/hi', 'me'],
        ['GET', '/bye', 'me'],
      ]);
      expect(signals).to.have.length(2);
      await eventually(() => policy.stats().open === 0, 'the session closed');
      expect(policy.stats().closed.policy).to.equal(1);
    });

    it('is still tracked: connectionInfo(stream), stats, both channels, and a two-phase drain', async () => {
      const decisions: unknown[] = [];
      const closes: Array<{ reason: string }> = [];
      const onDecision = (m: unknown) => decisions.push(m);
      const onClose = (m: unknown) => closes.push(m as { reason: string });
      subscribe(DECISION_CHANNEL, onDecision);
      subscribe(CLOSE_CHANNEL, onClose);
      cleanups.push(() => (unsubscribe(DECISION_CHANNEL, onDecision), unsubscribe(CLOSE_CHANNEL, onClose)));
      const infos: unknown[] = [];
      const { session } = await streamServer((stream) => {
        infos.push(connectionInfo(stream));
        stream.respond({ ':status': 200 });
        stream.end('ok');
      });
      for (let i = 0; i < 2; i++) {
        await new Promise<void>((resolve, reject) => {
          const req = session.request({ ':path': '/' });
          req.on('end', resolve);
          req.on('error', reject);
          req.resume();
        });
      }
      expect(infos.map((info) => (info as { requests: number }).requests)).to.deep.equal([1, 2]);
      expect(policy.stats()).to.include({ open: 1, requests: 2, reusedRequests: 1 });
      expect(decisions).to.have.length(2);
      expect(await policy.drain({ timeout: 3000 })).to.deep.equal({ graceful: 1, destroyed: 0 });
      expect(closes.map((c) => c.reason)).to.deep.equal(['drain']);
    });
  });

  for (const tuples of [false, true]) {
    const form = tuples ? '[[name, value], …]' : '[name, value, …]';
    it(`writeHead(status, ${form}) on a response the policy closes: the headers go out, repeats too, nothing throws`, async () => {
      const policy = connectionPolicy();
      const headers = [
        ['content-type', 'text/plain'],
        ['x-a', '1'],
        ['x-a', '2'],
      ];
      const server = serve(
        policy.attach(
          http.createServer((req, res) =>
            policy(req, res, () => {
              res.writeHead(200, tuples ? headers : headers.flat());
              res.end('ok');
            }),
          ),
        ),
      );
      const c = await connect(await listen(server));
      c.write(get('/', 'Connection: close'));
      const res = await c.response();
      expect([res.status, res.header('content-type'), res.header('connection')]).to.deep.equal([200, 'text/plain', 'close']);
      expect(res.count('x-a')).to.equal(2);
      expect((await c.closed(2000)).kind).to.equal('fin');
    });
  }

  it('server.setTimeout() still fires for a connection that has sent no request yet', async () => {
    const policy = connectionPolicy({ idleTimeout: 65_000 });
    const server = serve(policy.attach(http.createServer((req, res) => res.end('x'))));
    const timedOut: number[] = [];
    const started = Date.now();
    server.setTimeout(200, (socket: net.Socket) => {
      timedOut.push(Date.now() - started);
      socket.destroy();
    });
    const c = await connect(await listen(server));
    expect((await c.closed(1500)).kind).to.not.equal('open');
    expect(timedOut).to.have.length(1);
    expect(timedOut[0]).to.be.within(160, 400);
  });

  it("a CONNECT tunnel gets no timer of the policy's, past idleTimeout", async () => {
    const policy = connectionPolicy({ idleTimeout: 300 });
    const server = serve(policy.attach(http.createServer((req, res) => res.end('x'))));
    const timeouts: number[] = [];
    const tunnels: net.Socket[] = [];
    server.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
      tunnels.push(socket);
      socket.on('timeout', () => timeouts.push(Date.now()));
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      socket.on('data', (d) => socket.write(d));
      socket.on('end', () => socket.end());
    });
    cleanups.push(() => tunnels.forEach((t) => t.destroy()));
    const c = await connect(await listen(server));
    c.write('CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n');
    expect((await c.response({ head: true })).status).to.equal(200);
    expect((await c.closed(800)).kind).to.equal('open');
    expect(timeouts).to.deep.equal([]);
    expect(tunnels[0]!.timeout ?? 0).to.equal(0);
    c.write('ping');
    await eventually(() => c.rest.endsWith('ping'), 'the echo of ping');
  });

  it("a server whose app stopped listening for 'connect' closes a CONNECT itself again, as without the policy", async () => {
    // Node hands a CONNECT to the app only while something listens for 'connect'; the
    // policy's listener must not be left behind as that something.
    const policy = connectionPolicy();
    const server = serve(policy.attach(http.createServer((req, res) => res.end('x'))));
    const onConnect = (req: http.IncomingMessage, socket: net.Socket) => socket.end('HTTP/1.1 200 OK\r\n\r\n');
    server.on('connect', onConnect);
    server.off('connect', onConnect);
    expect(server.listenerCount('connect')).to.equal(0);
    const c = await connect(await listen(server));
    c.write('CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n');
    expect((await c.closed(2000)).kind).to.not.equal('open');
  });

  it("an upgraded socket gets no timer of the policy's either: no 'timeout' event past idleTimeout", async () => {
    const policy = connectionPolicy({ idleTimeout: 300 });
    const server = serve(policy.attach(http.createServer((req, res) => res.end('x'))));
    const timeouts: number[] = [];
    const upgraded = acceptUpgrades(server, (req, socket) => socket.on('timeout', () => timeouts.push(Date.now())));
    cleanups.push(() => upgraded.forEach((s) => s.destroy()));
    const c = await connect(await listen(server));
    c.write(UPGRADE);
    expect((await c.response({ head: true })).status).to.equal(101);
    expect((await c.closed(800)).kind).to.equal('open');
    expect(timeouts).to.deep.equal([]);
  });
});
