import { expect } from 'chai';
import { RawClient, request } from './helpers/raw.js';
import { runTs, type Child } from './helpers/child.js';
import { expectResetConnection, expectReusedConnection } from '../src/testing/index.js';

// SPEC §3, byte for byte (written out here, not imported, so the test is independent).
const BODY =
  "<?xml version='1.0' encoding='utf-8'?>\n" +
  '<ListQueuesResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><ListQueuesResult /><ResponseMetadata><RequestId>Y05BFPBE0ZMIURXXPY35R57NELYBSPCNY6XBU0FR0A6ITR27LZUJ</RequestId></ResponseMetadata></ListQueuesResponse>';

describe('examples/echo-server.ts', () => {
  let child: Child | undefined;
  afterEach(() => child?.kill());

  async function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
    child = runTs('examples/echo-server.ts', args, env);
    return (await child.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+\/)/))[1]!;
  }

  it('answers GET and POST / with the ListQueuesResponse, byte for byte', async () => {
    const url = await start(['--port', '0']);
    const port = Number(new URL(url).port);
    const client = await RawClient.connect(port);
    try {
      client.write(request('GET', '/', 'HTTP/1.1', ['Host: x']));
      const got = await client.response();
      client.write(request('POST', '/', 'HTTP/1.1', ['Host: x', 'Content-Length: 36']) + 'Action=ListQueues&Version=2012-11-05');
      const posted = await client.response();
      for (const res of [got, posted]) {
        expect(res.status).to.equal(200);
        expect(res.body).to.equal(BODY);
        expect(res.header('content-length')).to.equal(String(Buffer.byteLength(BODY)));
      }
    } finally {
      client.destroy();
    }
  });

  it('--policy keep-alive: a client reuses one connection', async () => {
    const url = await start(['--port', '0', '--policy', 'keep-alive']);
    const report = await expectReusedConnection(url, { method: 'POST', body: 'Action=ListQueues', requests: 5 });
    expect(report.requests.every((r) => r.status === 200)).to.equal(true);
  });

  it('--policy close (or POLICY=close): a new connection per request', async () => {
    await expectResetConnection(await start(['--port', '0', '--policy', 'close']), { requests: 4 });
    child!.kill();
    await expectResetConnection(await start([], { POLICY: 'close', PORT: '0' }), { requests: 3 });
  });

  it('rejects a bad --policy with exit status 2 and exits 0 on SIGTERM', async () => {
    const bad = runTs('examples/echo-server.ts', ['--policy', 'sometimes']);
    expect(await bad.exited()).to.equal(2);
    expect(bad.output).to.match(/--policy must be keep-alive or close; got sometimes/);
    await start(['--port', '0']);
    child!.process.kill('SIGTERM');
    expect(await child!.exited()).to.equal(0);
  });
});

describe('npm start (scripts/demo.ts)', () => {
  it('runs both policies against real clients and prints the table', async function () {
    this.timeout(90_000);
    const demo = runTs('scripts/demo.ts', ['--requests', '4', '--rounds', '2']);
    try {
      expect(await demo.exited(80_000)).to.equal(0);
    } finally {
      demo.kill();
    }
    const row = demo.output.split('\n').find((l) => l.startsWith('node http.Agent'))!;
    // p50, p99, connections for keep-alive, then for close, then the ratio.
    const cells = row.replace('node http.Agent', '').trim().split(/\s+/);
    expect(cells).to.have.length(7);
    expect(cells[2]).to.equal('2'); // one connection per round
    expect(cells[5]).to.equal('4'); // one per request
    expect(demo.output).to.match(/^undici\s/m);
    expect(demo.output).to.match(/^curl\s/m);
    expect(demo.output).to.match(/keep-alive was faster for \d of \d clients/);
  });
});
