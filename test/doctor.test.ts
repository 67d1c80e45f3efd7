import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import express from 'express';
import { runTs } from './helpers/child.js';
import { assertDiagnosisSchema, shippedSchema } from './helpers/doctor-schema.js';
import { DOCTOR_SCHEMA_URL } from '../src/doctor/schema.js';
import { closeServer, listen } from './helpers/servers.js';
import { connectionPolicy, type ConnectionPolicyOptions } from '../src/index.js';
import type { Diagnosis } from '../src/doctor/diagnose.js';
import { get, RawClient } from '../src/doctor/wire.js';
import { TLS } from './helpers/tls.js';

/** Runs the doctor's CLI as users do; resolves with exit code and output. */
async function doctor(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = runTs('src/doctor/cli.ts', args);
  let stdout = '';
  let stderr = '';
  child.process.stdout!.on('data', (d) => (stdout += d));
  child.process.stderr!.on('data', (d) => (stderr += d));
  try {
    const code = await child.exited(60_000);
    return { code, stdout, stderr };
  } finally {
    child.kill();
  }
}

/** The findings of a `--json` run, after checking the document against schema/doctor.json. */
function codes(out: string): string[] {
  const diagnosis = JSON.parse(out) as Diagnosis;
  assertDiagnosisSchema(diagnosis);
  return diagnosis.findings.map((f) => f.code);
}

describe('connection-doctor', function () {
  this.timeout(90_000);
  const servers: net.Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      if (s instanceof http.Server) await closeServer(s as http.Server);
      else await new Promise((r) => s.close(r));
    }
  });
  async function serve(server: http.Server): Promise<string> {
    servers.push(server);
    return `http://127.0.0.1:${await listen(server)}/`;
  }
  function policyApp(options: ConnectionPolicyOptions = {}) {
    const app = express();
    app.use(connectionPolicy(options));
    app.all('/', (req, res) => void res.send('hello'));
    return http.createServer(app);
  }

  it('finds nothing on a healthy keep-alive server (exit 0) and prints the table', async () => {
    const url = await serve(policyApp());
    const { code, stdout, stderr } = await doctor([url]);
    expect(stdout).to.match(/HTTP\/1\.1 keep-alive by default\s+yes/);
    expect(stdout).to.match(/Connection \/ Keep-Alive sent\s+keep-alive \/ timeout=64/);
    expect(stdout).to.match(/client's Connection: close honoured\s+yes/);
    expect(stdout).to.match(/HTTP\/1\.0 without keep-alive\s+closed/);
    expect(stdout).to.match(/HTTP\/1\.0 with keep-alive\s+kept alive/);
    expect(stdout).to.match(/verdict: healthy/);
    expect(stderr).to.match(/… latency/); // progress goes to stderr
    expect(code).to.equal(0);
  });

  it('reports a server that closes after every response (exit 1)', async () => {
    const url = await serve(policyApp({ policy: 'close' }));
    const { code, stdout } = await doctor([url, '--json']);
    expect(code).to.equal(1);
    expect(codes(stdout)).to.include('no-keep-alive');
    expect((JSON.parse(stdout) as Diagnosis).persistence.connectionHeader).to.equal('close');
  });

  it('finds the Nagle × delayed-ACK stall of a noDelay: false server writing in two pieces', async () => {
    const url = await serve(
      http.createServer({ noDelay: false }, (req, res) => {
        req.resume();
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('x'.repeat(100));
        setImmediate(() => res.end('y'.repeat(200)));
      }),
    );
    const { code, stdout } = await doctor([url, '--json', '--requests', '20']);
    const d = JSON.parse(stdout) as Diagnosis;
    expect(code).to.equal(1);
    expect(d.latency.stall).to.equal('delayed-ack-40ms');
    expect(codes(stdout)).to.include('nagle-delayed-ack-stall');
    expect(d.latency.reused.p50 - d.latency.fresh.p50).to.be.within(25, 60);
    const text = await doctor([url, '--requests', '10']);
    expect(text.stdout).to.match(/near-constant ~40 ms \(Linux delayed ACK\)/);
    expect(text.stdout).to.match(/fix: set TCP_NODELAY/);
  });

  it('warns about a Keep-Alive: timeout=1 hint', async () => {
    const url = await serve(
      http.createServer((req, res) => {
        res.setHeader('Keep-Alive', 'timeout=1');
        res.end('x');
      }),
    );
    const { code, stdout } = await doctor([url, '--json']);
    expect(code).to.equal(1);
    expect(codes(stdout)).to.include('hint-too-short');
    expect((JSON.parse(stdout) as Diagnosis).persistence.advertisedTimeout).to.equal(1);
  });

  it('with --idle, catches a server that closes idle connections before its hint says', async () => {
    const server = http.createServer((req, res) => {
      res.setHeader('Keep-Alive', 'timeout=3');
      res.end('x');
    });
    server.keepAliveTimeout = 500; // Node closes at 1.5 s
    const url = await serve(server);
    const { code, stdout } = await doctor([url, '--json', '--idle', '--max-idle', '5000']);
    const d = JSON.parse(stdout) as Diagnosis;
    expect(code).to.equal(1);
    expect(d.idle!.closedAfterMs).to.be.within(1500 * 0.8, 1500 * 2);
    expect(codes(stdout)).to.include.members(['hint-not-below-close', 'idle-timeout-short']);
  });

  /** A raw server on 127.0.0.1: `answer(socket)` is called for every request head. */
  async function rawServer(answer: (socket: net.Socket) => void): Promise<string> {
    const raw = net.createServer((socket) => {
      let buf = '';
      socket.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        let i;
        while ((i = buf.indexOf('\r\n\r\n')) !== -1) {
          buf = buf.slice(i + 4);
          answer(socket);
        }
      });
      socket.on('error', () => {});
    });
    servers.push(raw);
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(raw.address() as AddressInfo).port}/`;
  }

  it('reports a raw server that mishandles HTTP/1.0 and ignores Connection: close', async () => {
    // Answers every request and never closes: wrong for HTTP/1.0 and for a client's close.
    const url = await rawServer((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    const { code, stdout } = await doctor([url, '--json']);
    expect(code).to.equal(1);
    expect(codes(stdout)).to.include.members(['client-close-ignored', 'http10-kept-open', 'no-keep-alive-hint']);
  });

  it("treats an HTTP/1.0 server's implied close as a close: no pipelining or idle findings (Python's http.server)", async () => {
    // What Python's http.server does: HTTP/1.0 responses, no Connection header, a FIN after each.
    const url = await rawServer((socket) => {
      if (!socket.writableEnded) socket.end('HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6\r\nContent-Length: 2\r\n\r\nok');
    });
    const { code, stdout } = await doctor([url, '--json', '--idle', '--max-idle', '3000', '--requests', '5']);
    const d = JSON.parse(stdout) as Diagnosis;
    expect(d.persistence.pipelining).to.equal('closed after the first');
    expect(d.idle).to.deep.equal({ closedAfterMs: null, maxIdleMs: 3000, closesAfterEachResponse: true });
    expect(codes(stdout)).to.deep.equal(['no-keep-alive']);
    expect(code).to.equal(1);
    const human = await doctor([url, '--idle', '--max-idle', '3000', '--requests', '5']);
    expect(human.stdout).to.match(/idle close enforced\s+no idle period: the connection ends with each response/);
    expect(human.stdout).to.match(/pipelined pair\s+closed after the first/);
  });

  it('reads chunked responses with trailer fields on a reused connection (RFC 9112 §7.1.2)', async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'text/plain', Trailer: 'X-Checksum, X-Count' });
      res.write('chunk');
      res.addTrailers({ 'X-Checksum': 'abc', 'X-Count': String(req.url?.length ?? 0) });
      res.end();
    });
    const port = Number(new URL(await serve(server)).port);
    const client = await RawClient.connect(port);
    try {
      for (const path of ['/first', '/second', '/third']) {
        client.write(get(path));
        const res = await client.response({ timeoutMs: 2000 });
        expect([res.status, res.body]).to.deep.equal([200, 'chunk']);
      }
      // Pipelined: the second response starts right behind the first one's trailers.
      client.write(get('/a') + get('/b'));
      expect((await client.response({ timeoutMs: 2000 })).status).to.equal(200);
      expect((await client.response({ timeoutMs: 2000 })).status).to.equal(200);
    } finally {
      client.destroy();
    }
  });

  it('reports a server that ends idle connections with a reset', async () => {
    const url = await rawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\nok');
      clearTimeout((socket as net.Socket & { idle?: NodeJS.Timeout }).idle);
      (socket as net.Socket & { idle?: NodeJS.Timeout }).idle = setTimeout(() => socket.resetAndDestroy(), 400);
    });
    const { stdout } = await doctor([url, '--json', '--idle', '--max-idle', '3000', '--requests', '5']);
    const d = JSON.parse(stdout) as Diagnosis;
    expect(d.idle?.closedWith).to.equal('reset');
    expect(d.idle?.closedAfterMs).to.be.within(400 * 0.8, 400 * 2);
    expect(codes(stdout)).to.include('idle-reset');
  });

  it('writes each request in one piece, head and body together, on every connection it opens', async () => {
    // What the server receives, read by read: each read must hold whole requests only.
    // A request in two writes (head, then body) arrives in two reads on a NODELAY socket.
    const reads: string[] = [];
    const raw = net.createServer((socket) => {
      socket.on('data', (chunk: Buffer) => {
        const text = chunk.toString('latin1');
        reads.push(text);
        let rest = text;
        let close = false;
        while (rest.length > 0) {
          const end = rest.indexOf('\r\n\r\n');
          if (end === -1) return socket.destroy(); // a piece of a head: the test fails below
          const head = rest.slice(0, end);
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          rest = rest.slice(end + 4 + length);
          close ||= /\r\nconnection: *close/i.test(head) || head.includes(' HTTP/1.0\r\n');
          socket.write('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=30\r\nContent-Length: 2\r\n\r\nok');
        }
        if (close) socket.end();
      });
      socket.on('error', () => {});
    });
    servers.push(raw);
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}/`;
    const body = 'Action=ListQueues&Version=2012-11-05';
    const { stdout } = await doctor([
      url,
      '--json',
      '--requests',
      '5',
      '--method',
      'POST',
      '--data',
      body,
      '--header',
      'X-Probe: 1',
    ]);
    expect(codes(stdout)).to.deep.equal([]);
    expect(reads.length).to.be.greaterThan(15);
    for (const read of reads) {
      // One request, or the pipelined pair the doctor sends in one write.
      expect(read.split(body).length - 1, read).to.be.within(1, 2);
      expect(read.endsWith(body), read).to.equal(true);
    }
  });

  it('is not fooled by a server that is slow on every request: the fresh-connection baseline shows it too', async () => {
    // 45 ms per response, on reused and fresh connections alike: no stall signature.
    const app = express();
    app.use(connectionPolicy());
    app.all('/', (req, res) => void setTimeout(() => res.send('slow'), 45));
    const url = await serve(http.createServer(app));
    const { stdout } = await doctor([url, '--json', '--requests', '10']);
    const d = JSON.parse(stdout) as Diagnosis;
    expect(d.latency.reused.p50).to.be.at.least(45);
    expect(d.latency.fresh.p50).to.be.at.least(45);
    expect(d.latency.stall).to.equal('none');
    expect(codes(stdout)).to.deep.equal([]);
  });

  it('--json names the shipped schema/doctor.json in $schema, pinned to this version', () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(DOCTOR_SCHEMA_URL).to.equal(`https://unpkg.com/express-connection-policy@${version}/schema/doctor.json`);
    expect(shippedSchema().$id).to.equal(DOCTOR_SCHEMA_URL);
  });

  it('schema/doctor.json is strict: it rejects a document with a finding code it does not list', () => {
    expect(shippedSchema()).to.have.property('$schema');
    const base = {
      $schema: DOCTOR_SCHEMA_URL,
      url: 'http://x/',
      persistence: {},
      latency: {},
      findings: [{ code: 'made-up', message: 'm', recommendation: 'r' }],
    };
    expect(() => assertDiagnosisSchema(base)).to.throw(/made-up|allowed values|must be equal to one of/);
  });

  it('diagnoses an https: URL too', async () => {
    const policy = connectionPolicy();
    const server = https.createServer(TLS, (req, res) => policy(req, res, () => res.end('secure')));
    const url = (await serve(server)).replace('http:', 'https:');
    const { code, stdout } = await doctor([url, '--json', '--requests', '5']);
    const d = JSON.parse(stdout) as Diagnosis;
    expect(d.persistence.http11KeptAlive).to.equal(true);
    expect(d.persistence.keepAliveHeader).to.equal('timeout=64');
    expect(code).to.equal(0);
  });

  it('exits 2 with one line when nothing listens', async () => {
    const url = await serve(http.createServer());
    await closeServer(servers.pop() as http.Server);
    const { code, stdout, stderr } = await doctor([url]);
    expect(code).to.equal(2);
    expect(stdout).to.equal('');
    expect(
      stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('…')),
    ).to.deep.equal([`connection-doctor: cannot diagnose ${url}: nothing listens on ${new URL(url).host}`]);
  });

  it('runs in-process too: importing it runs nothing, and main() resolves with the exit status instead of exiting', async () => {
    const { main } = await import('../src/doctor/main.js');
    const url = await serve(policyApp());
    const run = async (args: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
      return { code, stdout, stderr };
    };
    expect(await run(['--help'])).to.include({ code: 0 });
    expect(await run(['ftp://x/'])).to.deep.include({ code: 2, stdout: '' });
    const healthy = await run([url, '--json', '--requests', '3']);
    expect(healthy.code).to.equal(0);
    expect(codes(healthy.stdout)).to.deep.equal([]);
    expect(healthy.stderr).to.match(/… latency/);
  });

  it('exits 2 on bad usage, with a one-line reason', async () => {
    for (const args of [
      [],
      ['not a url'],
      ['ftp://x/'],
      ['http://127.0.0.1:1/', '--requests', 'many'],
      ['http://x/', '--bogus'],
    ]) {
      const { code, stderr } = await doctor(args);
      expect(code, args.join(' ')).to.equal(2);
      expect(stderr.trim().split('\n')).to.have.length(1);
      expect(stderr).to.match(/^connection-doctor: .*\(try --help\)/);
    }
    const help = await doctor(['--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/^usage: connection-doctor <url>/);
  });
});
