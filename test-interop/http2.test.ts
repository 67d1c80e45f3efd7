import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { connectionInfo, connectionPolicy, type ConnectionPolicy } from '../src/index.js';
import type { Child } from '../test/helpers/child.js';
import { startInstance } from './helpers/instance.js';
import { startHaproxy, type Haproxy } from './helpers/haproxy.js';
import { nodeLane } from './helpers/lanes.js';
import { freePort } from './helpers/process.js';

// SPEC §5 with real peers: curl over TLS (Debian's curl 7.88 cannot reuse an h2c
// connection), h2load through a drain, and a rolling restart behind HAProxy with
// HTTP/2 to the backends (proto h2).

const run = promisify(execFile);
const fixture = (name: string) => readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url));
const TLS = { key: fixture('localhost-key.pem'), cert: fixture('localhost-cert.pem') };

describe('HTTP/2 with real peers', function () {
  this.timeout(120_000);
  let server: http2.Http2Server | http2.Http2SecureServer | undefined;
  afterEach(async () => {
    const s = server;
    server = undefined;
    if (s?.listening) await new Promise<void>((r) => s.close(() => r()));
  });

  async function listen(s: http2.Http2Server | http2.Http2SecureServer): Promise<number> {
    server = s;
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as AddressInfo).port;
  }

  const infoHandler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) =>
    res.end(`${JSON.stringify(connectionInfo(req))}\n`);

  it('curl over TLS reuses one session for several URLs, and opens a new one after the GOAWAY of maxRequests', async () => {
    const policy = connectionPolicy({ maxRequests: 2 });
    const port = await listen(policy.attach(http2.createSecureServer(TLS, infoHandler)));
    const url = `https://127.0.0.1:${port}/`;
    const { stdout } = await run('curl', ['-sk', '--http2', '-w', '%{http_version} %{num_connects}\n', url, url, url]);
    const lines = stdout.trim().split('\n');
    // Each transfer prints the body (the request's ConnectionInfo), then "<version> <new connections>".
    const infos = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { id: number; requests: number });
    const meta = lines.filter((l) => !l.startsWith('{'));
    console.log(`      curl: ${meta.join(' | ')}; ${JSON.stringify(infos)}`);
    expect(meta).to.deep.equal(['2 1', '2 0', '2 1']);
    expect(infos.map((i) => i.requests)).to.deep.equal([1, 2, 1]);
    expect(infos[1]!.id).to.equal(infos[0]!.id);
    expect(infos[2]!.id).to.not.equal(infos[0]!.id);
    expect(policy.stats().closed.maxRequests).to.be.at.least(1);
  });

  /** h2load against an h2c server whose handler answers after 5 ms; `stop` runs 400 ms in. */
  async function h2loadThrough(
    stop: (
      policy: ConnectionPolicy | undefined,
      s: http2.Http2Server,
      sessions: Set<http2.ServerHttp2Session>,
    ) => Promise<unknown>,
    withPolicy: boolean,
  ) {
    let started = 0;
    let finished = 0;
    let cut = 0;
    const policy = withPolicy ? connectionPolicy() : undefined;
    const sessions = new Set<http2.ServerHttp2Session>();
    const s = http2.createServer((req, res) => {
      started++;
      res.on('close', () => (res.writableFinished ? finished++ : cut++));
      setTimeout(() => res.end('ok'), 5);
    });
    s.on('session', (x: http2.ServerHttp2Session) => sessions.add(x));
    policy?.attach(s);
    const port = await listen(s);
    const child = spawn('h2load', ['-n', '4000', '-c', '4', '-m', '4', `http://127.0.0.1:${port}/`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.once('close', r));
    await new Promise((r) => setTimeout(r, 400));
    const result = await stop(policy, s, sessions);
    await exited;
    const m = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
    expect(m, out).to.not.equal(null);
    const [total, , done, succeeded, failed, errored] = m!.slice(1).map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    return { total, done, succeeded, failed, errored, started, finished, cut, result };
  }

  it('h2load through a drain: every stream the server accepted completes; the rest are counted as not served', async () => {
    const r = await h2loadThrough((policy) => policy!.drain({ timeout: 10_000 }), true);
    console.log(
      `      with the policy: server accepted ${r.started}, finished ${r.finished}, cut ${r.cut}; h2load ${r.succeeded} succeeded, ${r.failed} failed, ${r.errored} errored of ${r.total}; drain ${JSON.stringify(r.result)}`,
    );
    expect(r.cut).to.equal(0);
    expect(r.finished).to.equal(r.started);
    expect(r.succeeded).to.equal(r.finished);
    expect(r.result).to.deep.equal({ graceful: 4, destroyed: 0 });
  });

  it('h2load through a plain shutdown (the control): sessions destroyed mid-stream, counted for information', async () => {
    const r = await h2loadThrough(async (policy, s, sessions) => {
      // What a server without a drain does: server.close() stops accepting but does not
      // end the sessions, so a shutdown destroys them (here 100 ms later).
      s.close();
      await new Promise((res) => setTimeout(res, 100));
      for (const x of sessions) x.destroy();
      return `${sessions.size} sessions destroyed`;
    }, false);
    console.log(
      `      control: server accepted ${r.started}, finished ${r.finished}, cut ${r.cut}; h2load ${r.succeeded} succeeded, ${r.failed} failed, ${r.errored} errored of ${r.total}`,
    );
    expect(r.started).to.be.greaterThan(0);
  });

  describe('rolling restart behind HAProxy with HTTP/2 to the backends', () => {
    let haproxy: Haproxy | undefined;
    const children: Child[] = [];
    afterEach(async () => {
      await haproxy?.stop();
      haproxy = undefined;
      for (const c of children.splice(0)) c.kill();
    });

    const start = (port: number) =>
      startInstance(
        'examples/http2-server.ts',
        port,
        ['--tls-port', '0', '--drain-delay', '1000', '--drain-spread', '0', '--drain-timeout', '5000'],
        children,
      );

    it('restarts each instance with zero failed requests', async () => {
      const ports = [await freePort(), await freePort()];
      const current = [await start(ports[0]!), await start(ports[1]!)];
      haproxy = await startHaproxy({ upstreams: ports, healthCheck: '/ready', proto: 'h2', retryOn: 'all-retryable-errors' });
      for (const s of ['s1', 's2']) await haproxy.waitFor(s, 'UP');
      let stop = false;
      const statuses: Record<number, number> = {};
      const failures: string[] = [];
      const lanes = Array.from({ length: 6 }, async (_, n) => {
        const lane = nodeLane(haproxy!.url, {}, n % 2 === 0 ? 'GET' : 'POST');
        while (!stop) {
          try {
            const { status } = await lane.send();
            statuses[status] = (statuses[status] ?? 0) + 1;
            if (status >= 500) failures.push(`HTTP ${status}`);
          } catch (err) {
            failures.push((err as NodeJS.ErrnoException).code ?? String(err));
          }
          await new Promise((r) => setTimeout(r, 2));
        }
        await lane.close();
      });
      await new Promise((r) => setTimeout(r, 500));
      const drained: string[] = [];
      for (const k of [0, 1]) {
        const old = current[k]!;
        old.process.kill('SIGTERM');
        drained.push((await old.waitFor(/drained: (\{.*\})/, 20_000))[1]!);
        await old.exited();
        current[k] = await start(ports[k]!);
        await haproxy.waitFor(`s${k + 1}`, 'UP');
        await new Promise((r) => setTimeout(r, 300));
      }
      stop = true;
      await Promise.all(lanes);
      const stats = await haproxy.stats();
      console.log(
        `      ${JSON.stringify(statuses)} answered, ${failures.length} failed; HAProxy retries ${stats.reduce((n, s) => n + s.retries, 0)}; drains ${drained.join(' ')}`,
      );
      expect(failures).to.deep.equal([]);
      expect(Object.keys(statuses)).to.deep.equal(['200']);
      expect(statuses[200]).to.be.greaterThan(300);
    });
  });
});
