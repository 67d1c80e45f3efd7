import { expect } from 'chai';
import http from 'node:http';
import { runTs, type Child } from './helpers/child.js';

/** A failed request, and whether it is the one kind a client may safely retry. */
class RequestError extends Error {
  constructor(
    readonly code: string | undefined,
    /**
     * The keep-alive race, client half (Node's docs, `request.reusedSocket`): reset
     * on a reused socket before any of the response arrived, so the server never
     * took the request. A reset after the response began is a lost request.
     */
    readonly retriable: boolean,
  ) {
    super(code ?? 'request failed');
  }
}

function get(port: number, path: string, agent: http.Agent | false = false) {
  return new Promise<{ status: number; body: string; connection?: string | undefined }>((resolve, reject) => {
    let responded = false;
    const req = http
      // A request that is never answered fails the test instead of hanging it.
      .get({ host: '127.0.0.1', port, path, agent, timeout: 5000 }, (res) => {
        responded = true;
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('error', (err: NodeJS.ErrnoException) => reject(new RequestError(err.code, false)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
      })
      .on('timeout', function (this: http.ClientRequest) {
        this.destroy(Object.assign(new Error('no response within 5 s'), { code: 'TIMEOUT' }));
      })
      .on('error', (err: NodeJS.ErrnoException) => {
        reject(new RequestError(err.code, err.code === 'ECONNRESET' && req.reusedSocket && !responded));
      });
  });
}

describe('examples/graceful-shutdown.ts', () => {
  let child: Child;
  afterEach(() => child.kill());

  it('announces on SIGTERM (readiness 503, still serving), then drains: the in-flight request completes with Connection: close, exit 0', async function () {
    this.timeout(30_000);
    child = runTs('examples/graceful-shutdown.ts', ['--port', '0', '--drain-delay', '600']);
    const port = Number((await child.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/))[1]);
    const metrics = await get(port, '/metrics');
    expect(metrics.body).to.match(/^http_requests_total 1$/m);
    expect(metrics.body).to.match(/^http_connections_closed_total\{reason="client"\} 0$/m);
    expect(await get(port, '/ready')).to.include({ status: 200, body: 'ready' });
    const slow = get(port, '/slow?ms=400');
    await new Promise((r) => setTimeout(r, 100));
    child.process.kill('SIGTERM');
    await child.waitFor(/SIGTERM: draining/);
    // The announce phase: out of rotation, but a new connection is still served.
    expect(await get(port, '/ready')).to.include({ status: 503, body: 'draining', connection: 'close' });
    expect(await get(port, '/')).to.include({ status: 200, body: 'hello\n', connection: 'close' });
    const res = await slow;
    expect(res).to.include({ status: 200, body: 'slow hello\n', connection: 'close' });
    expect(await child.exited()).to.equal(0);
    expect(child.output).to.match(/SIGTERM: draining/);
    expect(child.output).to.match(/drained: \d+ graceful, 0 destroyed/);
  });
});

describe('examples/cluster.ts', () => {
  let child: Child;
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(child.output);
    child.kill();
  });

  it('rolls workers one by one under keep-alive load without losing a request', async function () {
    this.timeout(60_000);
    child = runTs('examples/cluster.ts', ['--port', '0', '--workers', '2']);
    const port = Number((await child.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/, 30_000))[1]);
    let stop = false;
    let ok = 0;
    let retried = 0;
    const failures: string[] = [];
    const pids = new Set<string>();
    const lane = async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      for (let i = 0; !stop && i < 20_000; i++) {
        try {
          const res = await get(port, '/', agent);
          pids.add(res.body.trim().split(' ').pop()!);
          ok++;
        } catch (err) {
          // The client half of the keep-alive race: a request written on a socket the
          // server closed at that very moment never reached it, so it is safe to retry.
          if (err instanceof RequestError && err.retriable) {
            retried++;
            continue;
          }
          failures.push(String(err instanceof RequestError ? err.code : err));
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      agent.destroy();
    };
    const lanes = Array.from({ length: 4 }, lane);
    await new Promise((r) => setTimeout(r, 500));
    const before = new Set(pids);
    child.process.kill('SIGHUP');
    await child.waitFor(/rolling restart done/, 40_000);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(lanes);
    expect(failures).to.deep.equal([]);
    expect(ok).to.be.greaterThan(100);
    expect(child.output.match(/drained: \{"graceful":\d+,"destroyed":0\}/g)).to.have.length(2);
    // New workers answered after the restart.
    expect([...pids].filter((p) => !before.has(p)).length).to.be.at.least(1);
    child.process.kill('SIGTERM');
    expect(await child.exited(20_000)).to.equal(0);
    if (retried > 0) console.log(`      (${retried} request(s) retried after a reset on a reused socket)`);
  });
});
