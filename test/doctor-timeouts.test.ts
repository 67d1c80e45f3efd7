import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { assertDiagnosisSchema } from './helpers/doctor-schema.js';
import { expectEnforced } from './helpers/diagnosis.js';
import { closeServer, listen } from './helpers/servers.js';
import type { Diagnosis } from '../src/doctor/diagnose.js';
import { main } from '../src/doctor/main.js';

// SPEC §4 "The whole timeout chain": --timeouts measures what a server really
// enforces (each within ±10 % or 200 ms), --behind finds the hop that races it.
// (nginx and HAProxy: test-interop/doctor-timeouts.test.ts.)

async function doctor(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('connection-doctor --timeouts and --behind', function () {
  this.timeout(60_000);
  const servers: http.Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await closeServer(s);
  });
  /** A Node server whose body-reading handler answers after the whole request arrived. */
  async function nodeServer(configure: (s: http.Server) => void, options: http.ServerOptions = {}): Promise<string> {
    const server = http.createServer(options, (req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    configure(server);
    servers.push(server);
    await listen(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  }

  it("measures a Node server's idle, headers and request timeouts as it enforces them", async () => {
    // Enforced on Node 20–26: the idle close keepAliveTimeout + 1 s after a response;
    // the 408s at headersTimeout / requestTimeout, late by up to the checking interval.
    const url = await nodeServer(
      (s) => {
        s.keepAliveTimeout = 1000;
        s.headersTimeout = 1500;
        s.requestTimeout = 2500;
      },
      { connectionsCheckingInterval: 100 },
    );
    const { code, stdout, stderr } = await doctor([url, '--json', '--timeouts', '--max-wait', '10000', '--requests', '5']);
    const d = JSON.parse(stdout) as Diagnosis;
    assertDiagnosisSchema(d);
    expectEnforced('idle', d.timeouts!.idle, 2000);
    expectEnforced('headers', d.timeouts!.headers, 1500);
    expectEnforced('request', d.timeouts!.request, 2500);
    expect(stderr).to.match(/… timeouts: probing the idle, headers and request timeouts at once/);
    // Node's own hint (timeout=1) and an idle close under 60 s: the findings.
    expect([code, d.findings.map((f) => f.code)]).to.deep.equal([1, ['hint-too-short', 'idle-timeout-short']]);
  });

  it('reports a timeout longer than the bound as "longer than", never a guess', async () => {
    const url = await nodeServer(() => {});
    const { stdout } = await doctor([url, '--json', '--timeouts', '--max-wait', '1000', '--requests', '3']);
    const d = JSON.parse(stdout) as Diagnosis;
    assertDiagnosisSchema(d);
    // Node's idle close is 6 s, its headers and request timeouts 60 s and 300 s.
    expect(d.timeouts).to.deep.equal({
      idle: { longerThan: 1000 },
      headers: { longerThan: 1000 },
      request: { longerThan: 1000 },
    });
  });

  it('--behind: names the hop that keeps idle connections as long as the server or longer, with both numbers; the table shows who closes first', async () => {
    const url = await nodeServer((s) => (s.keepAliveTimeout = 1000)); // closes idle connections after 2 s
    const racing = await doctor([url, '--json', '--behind', 'alb:1,nginx:3', '--max-wait', '5000', '--requests', '3']);
    const d = JSON.parse(racing.stdout) as Diagnosis;
    assertDiagnosisSchema(d);
    expect(d.chain).to.deep.equal([
      { hop: 'alb', idle: 1000, assumed: false, race: false },
      { hop: 'nginx', idle: 3000, assumed: false, race: true },
    ]);
    expectEnforced('idle', d.timeouts!.idle, 2000);
    expect([d.timeouts!.headers, d.timeouts!.request]).to.deep.equal([null, null]);
    const race = d.findings.find((f) => f.code === 'chain-race')!;
    expect(race.message).to.match(/^nginx keeps idle connections to the server 3 s, but the server closes them after 2(\.\d)? s/);
    expect(racing.code).to.equal(1);

    const table = await doctor([url, '--behind', 'alb:1,nginx:3', '--max-wait', '5000', '--requests', '3']);
    expect(table.stdout).to.match(/timeout chain \(client → server/);
    expect(table.stdout).to.match(/\n {4}alb +1 s +lets go before the server: ok\n/);
    expect(table.stdout).to.match(/\n {4}nginx +3 s +RACE: keeps idle connections as long as the server or longer\n/);
    expect(table.stdout).to.match(/\n {4}server +2\.\d s +measured\n/);
    expect(table.stdout).to.include('[chain-race] nginx keeps idle connections');
  });

  it('--behind with a known hop and no seconds uses its documented default, and says it was assumed', async () => {
    const url = await nodeServer((s) => (s.keepAliveTimeout = 1000));
    const { stdout } = await doctor([url, '--json', '--behind', 'haproxy', '--max-wait', '5000', '--requests', '3']);
    const d = JSON.parse(stdout) as Diagnosis;
    expect(d.chain).to.deep.equal([{ hop: 'haproxy', idle: 5000, assumed: true, race: true }]);
    expect(d.findings.find((f) => f.code === 'chain-race')!.message).to.include('(its documented default, assumed)');
  });

  for (const [args, reason] of [
    [['--behind', 'alb:60:1'], /^connection-doctor: --behind takes hop\[:seconds\]/],
    [['--behind', 'alb:-5'], /^connection-doctor: --behind: the seconds of 'alb' must be a number above 0; got '-5'/],
    [['--behind', 'alb:soon'], /^connection-doctor: --behind: the seconds of 'alb' must be a number above 0; got 'soon'/],
    [['--behind', 'my-lb'], /^connection-doctor: --behind: no known idle timeout for 'my-lb'/],
    [['--max-wait', '10'], /^connection-doctor: --max-wait must be a whole number of milliseconds from 1000 to 3600000; got 10/],
    [['--max-wait', '1e9'], /^connection-doctor: --max-wait must be/],
    [['--max-wait', 'forever'], /^connection-doctor: --max-wait must be/],
  ] as const) {
    it(`exits 2 with a one-line reason naming the flag: ${args.join(' ')}`, async () => {
      const { code, stdout, stderr } = await doctor(['http://127.0.0.1:9/', ...args]);
      expect(code).to.equal(2);
      expect(stdout).to.equal('');
      expect(stderr.trim().split('\n')).to.have.length(1);
      expect(stderr).to.match(reason);
    });
  }
});
