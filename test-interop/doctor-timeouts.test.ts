import { expect } from 'chai';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startServerProcess, type ServerProcess } from '../bench/lib/server-process.js';
import type { Diagnosis } from '../src/doctor/diagnose.js';
import { expectEnforced } from '../test/helpers/diagnosis.js';
import { assertDiagnosisSchema } from '../test/helpers/doctor-schema.js';
import { startHaproxy, type Haproxy } from './helpers/haproxy.js';
import { nodeLane } from './helpers/lanes.js';
import { startNginx, type Nginx } from './helpers/nginx.js';
import { raceHarness } from './helpers/race.js';

// SPEC §4 "The whole timeout chain", against real servers with known, short
// timeouts: what `connection-doctor --timeouts` measures lands within ±10 % or
// 200 ms of what each enforces; and the keep-alive race shown end to end, nginx
// in front of a Node server whose idle timeout is shorter than nginx's.

function doctor(args: string[]): Promise<{ code: number | null; diagnosis: Diagnosis; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('node', ['dist/esm/doctor/cli.js', ...args, '--json'], { timeout: 90_000 }, (err, stdout, stderr) => {
      const code: unknown = err ? (err as { code?: unknown }).code : 0;
      try {
        const diagnosis = JSON.parse(stdout) as Diagnosis;
        assertDiagnosisSchema(diagnosis);
        resolve({ code: typeof code === 'number' ? code : null, diagnosis, stderr });
      } catch (parseError) {
        reject(new Error(`no JSON from the doctor (${String(parseError)}); stderr: ${stderr}`));
      }
    });
  });
}

/** A Node backend that reads the whole body, then answers. */
async function backend(configure: (s: http.Server) => void = () => {}, options: http.ServerOptions = {}): Promise<http.Server> {
  const server = http.createServer(options, (req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  configure(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}
const portOf = (s: http.Server) => (s.address() as AddressInfo).port;
const TIMEOUTS = ['--timeouts', '--max-wait', '15000', '--requests', '5'];

describe('connection-doctor --timeouts on real servers', function () {
  this.timeout(120_000);
  const stops: Array<() => unknown> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });
  const keep = (s: http.Server) => stops.push(() => (s.closeAllConnections(), new Promise((r) => s.close(r))));

  it('Node with keepAliveTimeout, headersTimeout and requestTimeout set (checked every 100 ms)', async () => {
    const node = await backend(
      (s) => {
        s.keepAliveTimeout = 1500;
        s.headersTimeout = 2000;
        s.requestTimeout = 3000;
      },
      { connectionsCheckingInterval: 100 },
    );
    keep(node);
    const { diagnosis } = await doctor([`http://127.0.0.1:${portOf(node)}/`, ...TIMEOUTS]);
    console.log(`      Node ${process.version}: ${JSON.stringify(diagnosis.timeouts)}`);
    // Node closes an idle connection keepAliveTimeout + its 1 s buffer after a response.
    expectEnforced('idle', diagnosis.timeouts!.idle, 2500);
    expectEnforced('headers', diagnosis.timeouts!.headers, 2000);
    expectEnforced('request', diagnosis.timeouts!.request, 3000);
  });

  it('nginx with keepalive_timeout, client_header_timeout and client_body_timeout', async () => {
    const node = await backend();
    keep(node);
    const nginx: Nginx = await startNginx({
      upstreams: [portOf(node)],
      server: ['keepalive_timeout 2s;', 'client_header_timeout 2s;', 'client_body_timeout 3s;'],
    });
    stops.push(() => nginx.stop());
    const { diagnosis } = await doctor([nginx.url, ...TIMEOUTS]);
    console.log(`      nginx: ${JSON.stringify(diagnosis.timeouts)}`);
    expectEnforced('idle', diagnosis.timeouts!.idle, 2000);
    expectEnforced('headers', diagnosis.timeouts!.headers, 2000);
    expectEnforced('request', diagnosis.timeouts!.request, 3000);
  });

  it('HAProxy with timeout http-request (and http-keep-alive)', async () => {
    const node = await backend();
    keep(node);
    const haproxy: Haproxy = await startHaproxy({
      upstreams: [portOf(node)],
      defaults: ['timeout http-request 2s', 'timeout http-keep-alive 1500ms'],
    });
    stops.push(() => haproxy.stop());
    // Its request timeout is `timeout client` (30 s), not asserted: the probe stops at 5 s.
    const { diagnosis } = await doctor([haproxy.url, '--timeouts', '--max-wait', '5000', '--requests', '5']);
    console.log(`      HAProxy: ${JSON.stringify(diagnosis.timeouts)}`);
    expectEnforced('idle', diagnosis.timeouts!.idle, 1500);
    expectEnforced('headers', diagnosis.timeouts!.headers, 2000);
  });
});

describe('the timeout chain end to end: nginx in front of a Node server that closes first', function () {
  this.timeout(180_000);
  let app: ServerProcess | undefined;
  let nginx: Nginx | undefined;
  afterEach(async () => {
    await nginx?.stop();
    await app?.stop();
    nginx = app = undefined;
  });
  const NGINX_IDLE_S = 4;
  /** POSTs (nginx retries none) with idle gaps at the server's close, up to three rounds until a 5xx shows. */
  async function traffic(url: string, gapMs: number, rounds: number): Promise<Record<number, number>> {
    const statuses: Record<number, number> = {};
    for (let round = 0; round < rounds; round++) {
      const o = await raceHarness(() => nodeLane(url, {}, 'POST'), { lanes: 25, triesPerLane: 6, gapMs, spreadMs: 3 });
      for (const [status, n] of Object.entries(o.statuses)) statuses[Number(status)] = (statuses[Number(status)] ?? 0) + n;
      if (Object.keys(statuses).some((s) => Number(s) >= 500)) break;
    }
    return statuses;
  }
  const fivexx = (statuses: Record<number, number>) =>
    Object.entries(statuses).reduce((n, [status, count]) => n + (Number(status) >= 500 ? count : 0), 0);

  it('the control shows 502s, the doctor names chain-race, and the idleTimeout it recommends gives 0 5xx and no finding', async () => {
    // 1. The control: the server's idle close (2 s) is below nginx's upstream keepalive_timeout (4 s).
    app = await startServerProcess('test-interop/fixtures/policy-server.ts', ['--idle-timeout', '2000']);
    nginx = await startNginx({
      upstreams: [Number(new URL(app.url).port)],
      keepalive: 32,
      upstreamKeepaliveTimeout: `${NGINX_IDLE_S}s`,
    });
    const control = await traffic(nginx.url, 2000, 3);
    // 2. The doctor, told what is in front.
    const before = await doctor([app.url, '--behind', `nginx:${NGINX_IDLE_S}`, '--max-wait', '10000', '--requests', '5']);
    const race = before.diagnosis.findings.find((f) => f.code === 'chain-race');
    const match = /idleTimeout: (\d+)_000/.exec(race?.recommendation ?? '');
    console.log(
      `      server idle 2 s < nginx ${NGINX_IDLE_S} s: ${JSON.stringify(control)}; the doctor: ${race?.message.slice(0, 90)}…`,
    );
    expect(fivexx(control), `the control's statuses ${JSON.stringify(control)}`).to.be.greaterThan(0);
    expect(before.code).to.equal(1);
    expect(before.diagnosis.chain).to.deep.equal([{ hop: 'nginx', idle: NGINX_IDLE_S * 1000, assumed: false, race: true }]);
    expect(race!.message).to.match(
      /^nginx keeps idle connections to the server 4 s, but the server closes them after 2(\.\d)? s/,
    );
    expect(match, race!.recommendation).to.not.equal(null);
    await nginx.stop();
    await app.stop();

    // 3. The server's idleTimeout raised as the doctor says: the same traffic, no 5xx, no finding.
    const recommended = Number(match![1]) * 1000;
    app = await startServerProcess('test-interop/fixtures/policy-server.ts', ['--idle-timeout', String(recommended)]);
    nginx = await startNginx({
      upstreams: [Number(new URL(app.url).port)],
      keepalive: 32,
      upstreamKeepaliveTimeout: `${NGINX_IDLE_S}s`,
    });
    const fixed = await traffic(nginx.url, 2000, 1);
    const after = await doctor([app.url, '--behind', `nginx:${NGINX_IDLE_S}`, '--max-wait', '15000', '--requests', '5']);
    console.log(
      `      idleTimeout ${recommended} ms: ${JSON.stringify(fixed)}; findings ${JSON.stringify(after.diagnosis.findings.map((f) => f.code))}`,
    );
    expect(fixed).to.deep.equal({ 200: 150 });
    expect(after.diagnosis.chain).to.deep.equal([{ hop: 'nginx', idle: NGINX_IDLE_S * 1000, assumed: false, race: false }]);
    expect(after.diagnosis.findings.map((f) => f.code)).to.deep.equal([]);
  });
});
