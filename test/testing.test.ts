import { expect } from 'chai';
import { TLS } from './helpers/tls.js';
import { rejection } from './helpers/rejection.js';
import { execFile } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import request from 'supertest';
import { closeServer } from './helpers/servers.js';
import { connectionPolicy, type ConnectionPolicyOptions } from '../src/index.js';
import {
  expectResetConnection,
  expectReusedConnection,
  probeConnections,
  recordConnections,
  type ConnectionReport,
} from '../src/testing/index.js';

/** The sockets the raw servers accepted: destroyed after each test. */
const rawSockets = new Set<net.Socket>();
/**
 * A bare TCP server speaking just enough HTTP/1.1 for GET requests: `answer` gets
 * each request's socket, its position on that connection (1, 2, …) and its head,
 * and writes (or does not write) the response itself, so the test controls every byte.
 */
function rawServer(answer: (socket: net.Socket, ordinal: number, head: string) => void): net.Server {
  return net.createServer((socket) => {
    rawSockets.add(socket);
    socket.once('close', () => rawSockets.delete(socket));
    let buffered = '';
    let ordinal = 0;
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      buffered += String(chunk);
      let end;
      while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        answer(socket, ++ordinal, head);
      }
    });
  });
}
const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

function app(options: ConnectionPolicyOptions = {}) {
  const a = express();
  a.use(connectionPolicy(options));
  a.all('/', (req, res) => void res.send('ok'));
  a.post('/echo', express.text(), (req, res) => void res.send(req.body as string));
  return a;
}

describe('express-connection-policy/testing', () => {
  const servers: net.Server[] = [];
  const started = async <S extends net.Server>(server: S, host = '127.0.0.1') => {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
    return server;
  };
  const urlOf = (server: net.Server) => `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
  afterEach(async () => {
    for (const socket of rawSockets) socket.destroy();
    for (const s of servers.splice(0)) {
      if (s instanceof http.Server) await closeServer(s as http.Server);
      if (s.listening) await new Promise((resolve) => s.close(resolve));
    }
  });

  describe('expectReusedConnection(target)', () => {
    it('passes for the keep-alive policy through a supertest agent of a listening server', async () => {
      const server = await started(http.createServer(app({ exposeConnectionId: true })));
      const report = await expectReusedConnection(request.agent(server));
      expect(report.sockets).to.equal(1);
      expect(report.requests.map((r) => r.reused)).to.deep.equal([false, true, true]);
      expect(report.requests.map((r) => r.serverConnection?.split(';')[1])).to.deep.equal(['req=1', 'req=2', 'req=3']);
      expect(report.serverConnections).to.equal(1);
      expect(report).to.not.have.property('disagreement');
      expect(report.requests[0]).to.include({ status: 200, connection: 'keep-alive', keepAlive: 'timeout=64' });
    });

    it('starts and stops an app nobody started (request.agent(app))', async () => {
      const a = app();
      const agent = request.agent(a);
      const report = await expectReusedConnection(agent, { requests: 4 });
      expect(report.sockets).to.equal(1);
      expect((agent as unknown as { app: http.Server }).app.listening).to.equal(false);
    });

    it('takes an http.Server that is not listening, an Express app, or a URL string', async () => {
      const idle = http.createServer(app());
      await expectReusedConnection(idle);
      expect(idle.listening).to.equal(false);
      await expectReusedConnection(app());
      const server = await started(http.createServer(app()));
      const { port } = server.address() as net.AddressInfo;
      await expectReusedConnection(`http://127.0.0.1:${port}/`);
    });

    it('sends method, path, headers and body as asked, and replays headers set on the agent', async () => {
      const seen: Array<[string, string, string | undefined, string | undefined]> = [];
      const a = express();
      a.use(connectionPolicy());
      a.post('/echo', express.text(), (req, res) => {
        seen.push([req.method, req.url, req.get('x-probe'), req.get('x-agent')]);
        res.send(req.body as string);
      });
      const agent = request.agent(await started(http.createServer(a))).set('x-agent', 'yes');
      await expectReusedConnection(agent, {
        method: 'post',
        path: '/echo',
        headers: { 'x-probe': '1', 'content-type': 'text/plain' },
        body: 'hello',
        requests: 2,
      });
      expect(seen).to.deep.equal([
        ['POST', '/echo', '1', 'yes'],
        ['POST', '/echo', '1', 'yes'],
      ]);
    });

    it("passes for a plain node:http server (Node's own keep-alive)", async () => {
      const server = await started(http.createServer((req, res) => res.end('plain')));
      await expectReusedConnection(server);
    });

    it('fails for the close policy with a readable request-by-request table', async () => {
      const server = await started(http.createServer(app({ policy: 'close', exposeConnectionId: true })));
      const err = await rejection(expectReusedConnection(server));
      expect(err.name).to.equal('AssertionError');
      expect(err.code).to.equal('ERR_ASSERTION');
      // What a test runner shows as a diff: the socket of each request, against one socket for all.
      expect(err).to.include({ operator: 'expectReusedConnection' });
      expect((err as unknown as { actual: number[] }).actual).to.deep.equal([1, 2, 3]);
      expect((err as unknown as { expected: number[] }).expected).to.deep.equal([1, 1, 1]);
      // The stack starts at the caller's line, not inside the package.
      expect(err.stack!.split('\n').find((l) => l.startsWith('    at '))).to.match(/[/\\]testing[/\\]index\.ts:/);
      // The exact text, with the timings and server ids (which vary) masked.
      const masked = err.message.replace(/\d+;req=1/g, 'N;req=1').replace(/ +\d+\.\d$/gm, ' 0.0');
      expect(masked).to.equal(
        [
          'expected all 3 requests to reuse one connection, but 2 of 2 later requests did not (3 sockets used; the server answered "Connection: close")',
          '',
          '  req  status  socket  reused  connection  keep-alive  server id  ms',
          '  #1   200     sock#1  new     close       -           N;req=1 0.0',
          '  #2   200     sock#2  new     close       -           N;req=1 0.0',
          '  #3   200     sock#3  new     close       -           N;req=1 0.0',
        ].join('\n'),
      );
    });

    it('fails when a server drops connections mid-way without saying so', async () => {
      let served = 0;
      const server = await started(
        http.createServer((req, res) => {
          served++;
          res.end('x', () => {
            if (served === 2) req.socket.destroy();
          });
        }),
      );
      const err = await rejection(expectReusedConnection(server, { requests: 4 }));
      expect(err.name).to.equal('AssertionError');
      expect(err.message).to.match(/2 of 3 later requests did not \(2 sockets used\)/);
      expect(err.message).to.match(/#3 +200 +sock#2 +new/);
    });
  });

  describe('expectResetConnection(target)', () => {
    it('passes for the close policy', async () => {
      const report = await expectResetConnection(request.agent(app({ policy: 'close' })), { requests: 5 });
      expect(report.sockets).to.equal(5);
      expect(report.requests.every((r) => r.connection === 'close')).to.equal(true);
    });

    it('fails for the keep-alive policy', async () => {
      const err = await rejection(expectResetConnection(app()));
      expect(err.name).to.equal('AssertionError');
      expect(err).to.include({ operator: 'expectResetConnection' });
      expect((err as unknown as { actual: number[] }).actual).to.deep.equal([1, 1, 1]);
      expect((err as unknown as { expected: number[] }).expected).to.deep.equal([1, 2, 3]);
      expect(err.stack!.split('\n').find((l) => l.startsWith('    at '))).to.match(/[/\\]testing[/\\]index\.ts:/);
      expect(err.message).to.match(
        /^expected each of 3 requests to use a new connection, but 2 of 3 reused one \(1 socket used\)/,
      );
      expect(err.message).to.match(/#2 +200 +sock#1 +reused +keep-alive +timeout=64/);
    });
  });

  describe('probeConnections(target)', () => {
    it('reports ceil(n / 2) sockets for maxRequests: 2', async () => {
      const report: ConnectionReport = await probeConnections(app({ maxRequests: 2 }), { requests: 5 });
      expect(report.sockets).to.equal(3);
      expect(report.requests.map((r) => r.socket)).to.deep.equal([1, 1, 2, 2, 3]);
      expect(report.requests.map((r) => r.keepAlive)).to.deep.equal([
        'timeout=64, max=1',
        undefined,
        'timeout=64, max=1',
        undefined,
        'timeout=64, max=1',
      ]);
    });

    it('compares each request with the one before it: new sockets that are new server connections agree', async () => {
      // maxRequests: 2 over 4 requests: sockets 1, 1, 2, 2 and server connections A, A, B, B.
      const report = await probeConnections(app({ maxRequests: 2, exposeConnectionId: true }), { requests: 4 });
      expect(report.requests.map((r) => r.socket)).to.deep.equal([1, 1, 2, 2]);
      expect(report.serverConnections).to.equal(2);
      expect(report).to.not.have.property('disagreement');
    });

    it('notes where the client and server views disagree (a proxy in between)', async () => {
      const upstream = await started(http.createServer(app({ exposeConnectionId: true })));
      const upstreamPort = (upstream.address() as net.AddressInfo).port;
      // A proxy that keeps the client's connection but opens a new upstream one per request.
      const proxy = await started(
        http.createServer((req, res) => {
          const out = http.request(
            { host: '127.0.0.1', port: upstreamPort, path: req.url, method: req.method, agent: false },
            (up) => {
              res.writeHead(up.statusCode ?? 502, { 'x-connection-id': String(up.headers['x-connection-id']) });
              up.pipe(res);
            },
          );
          req.pipe(out);
        }),
      );
      const report = await probeConnections(proxy);
      expect(report.sockets).to.equal(1);
      expect(report.serverConnections).to.equal(3);
      expect(report.disagreement).to.match(/#2 same client socket, new server connection.*a proxy in between/);
      const err = await rejection(expectResetConnection(proxy));
      expect(err.message).to.match(/\n {2}client and server disagree: #2 same client socket, new server connection; #3 /);
    });

    it('runs probes in parallel without them interfering', async () => {
      const server = await started(http.createServer(app({ exposeConnectionId: true })));
      const reports = await Promise.all([1, 2, 3].map(() => probeConnections(server, { requests: 4 })));
      for (const r of reports) expect(r.sockets).to.equal(1);
      const ids = reports.map((r) => r.requests[0]!.serverConnection!.split(';')[0]);
      expect(new Set(ids).size).to.equal(3);
    });

    it('rejects with the underlying error when the target is not reachable or not HTTP', async () => {
      const free = await started(http.createServer());
      const { port } = free.address() as net.AddressInfo;
      await closeServer(free);
      servers.length = 0;
      const refused = await rejection(probeConnections(`http://127.0.0.1:${port}/`));
      expect(refused.code).to.equal('ECONNREFUSED');

      const garbage = net.createServer((socket) => socket.resume().end('SSH-2.0-OpenSSH_9.2\r\n'));
      await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', () => r()));
      try {
        const notHttp = await rejection(
          expectReusedConnection(`http://127.0.0.1:${(garbage.address() as net.AddressInfo).port}/`),
        );
        expect(notHttp.name).to.not.equal('AssertionError');
        expect(notHttp.code).to.match(/^HPE_/);
      } finally {
        await new Promise((r) => garbage.close(r));
      }
    });

    it('rejects bad options with a clear error', async () => {
      expect(await rejection(probeConnections(app(), { requests: 1 })))
        .to.be.instanceOf(RangeError)
        .with.property('message')
        .that.matches(/"requests" must be an integer ≥ 2; got 1/);
      expect(await rejection(probeConnections(app(), { requests: 2.5 }))).to.be.instanceOf(RangeError);
      expect(await rejection(probeConnections(app(), { method: 'GE T' })))
        .to.be.instanceOf(TypeError)
        .with.property('message')
        .that.matches(/"method"/);
      expect(await rejection(probeConnections(app(), { path: 'no-slash' })))
        .to.be.instanceOf(TypeError)
        .with.property('message')
        .that.matches(/"path"/);
      expect(await rejection(probeConnections(app(), { body: 5 as unknown as string }))).to.be.instanceOf(TypeError);
      expect(await rejection(probeConnections(app(), { request: 3 } as never)))
        .to.be.instanceOf(TypeError)
        .with.property('message')
        .that.matches(/did you mean "requests"/);
      expect(await rejection(probeConnections(42 as never)))
        .to.be.instanceOf(TypeError)
        .with.property('message')
        .that.matches(/probe target must be/);
    });
  });

  describe('what a probe sends and reports', () => {
    it('records a response as it came: fields the server did not send stay absent, ms from send to end', async () => {
      // The server id only on the first response: with some ids missing, no server-side count.
      const server = await started(
        rawServer((socket, ordinal) => {
          const id = ordinal === 1 ? 'x-connection-id: 7;req=1\r\n' : '';
          setTimeout(() => socket.write(`HTTP/1.1 200 OK\r\n${id}Content-Length: 2\r\n\r\nok`), 200);
        }),
      );
      const report = await probeConnections(urlOf(server));
      expect(report.sockets).to.equal(1);
      expect(report.requests[0]).to.have.property('serverConnection', '7;req=1');
      for (const r of report.requests) {
        expect(r).to.not.have.any.keys('connection', 'keepAlive', 'retried');
        expect(r.ms).to.be.within(200 * 0.8, 200 * 2);
      }
      expect(report.requests[1]).to.not.have.property('serverConnection');
      expect(report).to.not.have.any.keys('serverConnections', 'disagreement');
    });

    it('sends a Buffer body as given', async () => {
      const a = express();
      a.use(connectionPolicy());
      const seen: string[] = [];
      a.post('/echo', (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          seen.push(Buffer.concat(chunks).toString('hex'));
          res.end();
        });
      });
      await expectReusedConnection(a, { method: 'POST', path: '/echo', body: Buffer.from([0, 1, 255]), requests: 2 });
      expect(seen).to.deep.equal(['0001ff', '0001ff']);
    });

    it('retries once, on a new socket, a request that failed on a reused one (the keep-alive race), and says so', async () => {
      // Each connection's second request is met with a close and no response.
      const heads: string[] = [];
      const server = await started(
        rawServer((socket, ordinal, head) => {
          heads.push(head);
          if (ordinal === 1) socket.write(OK);
          else socket.destroy();
        }),
      );
      const report = await probeConnections(urlOf(server), { headers: { 'x-probe': 'yes' } });
      // The retried requests carry the same headers.
      expect(heads.map((h) => /\r\nx-probe: yes(\r\n|$)/i.test(h))).to.deep.equal([true, true, true, true, true]);
      expect(report.requests.map((r) => [r.status, r.socket, r.reused])).to.deep.equal([
        [200, 1, false],
        [200, 2, false],
        [200, 3, false],
      ]);
      expect(report.requests[0]).to.not.have.property('retried');
      expect(report.requests[1]!.retried).to.equal('sock#1 was closed by the server (ECONNRESET); retried on a new socket');
      expect(report.requests[2]!.retried).to.equal('sock#2 was closed by the server (ECONNRESET); retried on a new socket');
      const err = await rejection(expectReusedConnection(urlOf(server)));
      expect(err.message).to.match(
        /\n {2}#2: sock#1 was closed by the server \(ECONNRESET\); retried on a new socket\n {2}#3: sock#2 was closed/,
      );
    });

    it('does not retry a request that timed out on a reused socket', async () => {
      const server = await started(rawServer((socket, ordinal) => ordinal === 1 && socket.write(OK)));
      const err = await rejection(probeConnections(urlOf(server), { timeout: 200 }));
      expect(err.message).to.equal('probe: no response to GET / within 200 ms');
    });

    it('does not retry a request that failed on a new socket', async () => {
      let accepted = 0;
      const server = await started(rawServer((socket) => socket.destroy()));
      server.on('connection', () => accepted++);
      const err = await rejection(probeConnections(urlOf(server)));
      expect(err.code).to.equal('ECONNRESET');
      expect(accepted).to.equal(1);
    });

    it('rejects when a response is cut off mid-body', async () => {
      const server = await started(
        rawServer((socket) => {
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok');
          setTimeout(() => socket.destroy(), 20);
        }),
      );
      const err = await rejection(probeConnections(urlOf(server)));
      expect(err.code).to.equal('ECONNRESET');
      expect(err.message).to.equal('aborted');
    });

    it('gives up on a server that does not answer within timeout', async () => {
      const server = await started(rawServer(() => {}));
      const err = await rejection(probeConnections(urlOf(server), { timeout: 200 }));
      expect(err.message).to.equal('probe: no response to GET / within 200 ms');
    });
  });

  describe('what a probe can target', () => {
    it('an https server with a self-signed certificate, started and closed by the probe', async () => {
      const server = https.createServer(TLS, app());
      const report = await expectReusedConnection(server);
      expect(report.sockets).to.equal(1);
      expect(server.listening).to.equal(false);
      // And by URL.
      const listening = await started(server);
      const { port } = listening.address() as net.AddressInfo;
      expect((await expectReusedConnection(`https://127.0.0.1:${port}/`)).sockets).to.equal(1);
    });

    it('a server bound to another loopback address, or to every address', async () => {
      const other = await started(http.createServer(app({ exposeConnectionId: true })), '127.0.0.2');
      expect((await expectReusedConnection(other)).requests[0]!.serverConnection).to.match(/;req=1$/);
      await expectReusedConnection(await started(http.createServer(app()), '0.0.0.0'));
    });

    it('leaves no listener on a server it started and closed', async () => {
      const server = http.createServer(app());
      const before = server.listenerCount('error');
      await expectReusedConnection(server);
      const recorder = await recordConnections(server);
      await recorder.close();
      expect(server.listenerCount('error')).to.equal(before);
    });

    it('rejects what it cannot probe, saying why', async () => {
      const pipe = path.join(os.tmpdir(), `probe-${process.pid}-${Date.now()}.sock`);
      const onPipe = http.createServer(app());
      await new Promise<void>((resolve) => onPipe.listen(pipe, resolve));
      try {
        const err = await rejection(probeConnections(onPipe));
        expect(err).to.be.instanceOf(TypeError);
        expect(err.message).to.equal('probe target: the server listens on a pipe, not a TCP port');
      } finally {
        await closeServer(onPipe);
      }
      const ftp = await rejection(probeConnections('ftp://127.0.0.1/'));
      expect(ftp).to.be.instanceOf(TypeError);
      expect(ftp.message).to.equal('probe target: only http: and https: URLs can be probed; got ftp:');
      expect((await rejection(probeConnections(null as never))).message).to.match(/; got null$/);
      expect((await rejection(probeConnections(undefined as never))).message).to.match(/; got undefined$/);
    });
  });

  it('works from node:test as well as mocha', async function () {
    this.timeout(30_000);
    const file = fileURLToPath(new URL('./fixtures/node-test-usage.ts', import.meta.url));
    const output = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', '--test', '--test-reporter=tap', file],
        { timeout: 25_000 },
        (err, stdout) => (err ? reject(new Error(`${err.message}\n${stdout}`)) : resolve(stdout)),
      );
    });
    expect(output).to.match(/# pass 2/);
    expect(output).to.match(/# fail 0/);
  });
});
