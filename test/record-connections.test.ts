import { expect } from 'chai';
import { rejection } from './helpers/rejection.js';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { AssertionError } from 'node:assert';
import express from 'express';
import { Client, Pool } from 'undici';
import { connectionPolicy } from '../src/index.js';
import {
  expectResetConnection,
  expectReusedConnection,
  recordConnections,
  type ConnectionRecorder,
} from '../src/testing/index.js';
import { RawClient, get } from './helpers/raw.js';
import { closeServer, listen } from './helpers/servers.js';

// SPEC §2 recordConnections(target): the server-side record of which connection
// each request arrived on, whoever sent it — to test a client's reuse. (curl and
// Python requests: test-interop/record-connections.test.ts.)
function app(policy: 'keep-alive' | 'close' = 'keep-alive') {
  const a = express();
  a.use(connectionPolicy({ policy }));
  a.all('/queue', (req, res) => {
    req.resume();
    req.on('end', () => void res.type('text/plain').send('ok'));
  });
  return a;
}

const turn = () => new Promise((r) => setImmediate(r));
const send = (url: string, agent: http.Agent | false) =>
  new Promise<void>((resolve, reject) =>
    http.get(url, { agent }, (res) => res.resume().once('end', resolve)).once('error', reject),
  );
/** Runs `use` with `count` keep-alive agents of a single socket each, destroyed after. */
async function withAgents(count: number, use: (agents: http.Agent[]) => Promise<void>): Promise<void> {
  const agents = Array.from({ length: count }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  try {
    await use(agents);
  } finally {
    for (const agent of agents) agent.destroy();
  }
}
/** `n` requests one after another through one keep-alive agent with a single socket. */
const sendKeepAlive = (url: string, n: number) =>
  withAgents(1, async ([agent]) => {
    for (let i = 0; i < n; i++) await send(url, agent!);
  });

describe('recordConnections(target)', () => {
  let recorder: ConnectionRecorder | undefined;
  afterEach(async () => {
    await recorder?.close();
    recorder = undefined;
  });

  it('starts an app on 127.0.0.1 and gives its URL with a trailing slash', async () => {
    recorder = await recordConnections(app());
    expect(recorder.url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(recorder.requests).to.deep.equal([]);
    expect(recorder.connections).to.equal(0);
  });

  describe("Node's fetch", () => {
    it('awaited back to back: alternates between two pooled connections, both reused', async () => {
      recorder = await recordConnections(app());
      for (let i = 0; i < 6; i++) await (await fetch(recorder.url + 'queue')).text();
      expect(recorder.requests.map((r) => [r.method, r.path])).to.deep.equal(Array(6).fill(['GET', '/queue']));
      const report = await expectReusedConnection(recorder);
      expect(report.sockets).to.equal(2);
      expect(recorder.requests.map((r) => r.connection)).to.deep.equal([1, 2, 1, 2, 1, 2]);
      expect(recorder.requests.map((r) => r.ordinal)).to.deep.equal([1, 1, 2, 2, 3, 3]);
      const err = await rejection(expectReusedConnection(recorder, { connections: 1 }));
      expect(err).to.be.instanceOf(AssertionError);
      expect(err.message).to.match(/^expected at most 1 connection, but the 6 requests used 2/);
    });

    it('with one event-loop turn between requests: one connection', async () => {
      recorder = await recordConnections(app());
      for (let i = 0; i < 4; i++) {
        await (await fetch(recorder.url + 'queue', { method: 'POST', body: 'x' })).text();
        await turn();
      }
      await expectReusedConnection(recorder, { connections: 1, requests: 4 });
      expect(recorder.requests.map((r) => r.method)).to.deep.equal(['POST', 'POST', 'POST', 'POST']);
    });
  });

  describe('undici', () => {
    it('Client: one connection for every request', async () => {
      recorder = await recordConnections(app());
      const client = new Client(new URL(recorder.url).origin);
      try {
        for (let i = 0; i < 4; i++) await (await client.request({ path: '/queue', method: 'GET' })).body.text();
      } finally {
        await client.close();
      }
      await expectReusedConnection(recorder, { connections: 1 });
    });

    it('Pool: reuses its connections', async () => {
      recorder = await recordConnections(app());
      const pool = new Pool(new URL(recorder.url).origin, { connections: 2 });
      try {
        for (let i = 0; i < 6; i++) await (await pool.request({ path: '/queue', method: 'GET' })).body.text();
      } finally {
        await pool.close();
      }
      await expectReusedConnection(recorder, { connections: 2 });
    });
  });

  describe("node:http's Agent", () => {
    it('keepAlive: true reuses; agent: false opens one connection per request', async () => {
      recorder = await recordConnections(app());
      await sendKeepAlive(recorder.url + 'queue', 3);
      await expectReusedConnection(recorder, { connections: 1 });
      recorder.clear();
      for (let i = 0; i < 3; i++) await send(recorder.url + 'queue', false);
      await expectResetConnection(recorder, { requests: 3 });
      // Numbers go on after clear(): the first three connections were 1, the next 2–4.
      expect(recorder.requests.map((r) => r.connection)).to.deep.equal([2, 3, 4]);
      const err = await rejection(expectReusedConnection(recorder));
      expect(err.message).to.match(
        /^expected every connection to carry more than one request, but conn#2, conn#3, conn#4 carried only one/,
      );
      // The request-by-request table: method, path, server connection, ordinal on it, and
      // what the server answered (agent: false sends Connection: close, so rule 1 closes).
      expect(err.message).to.match(/\n {2}req +method +path +conn +ordinal +status +connection +keep-alive +at ms\n/);
      expect(err.message).to.match(/#1 +GET +\/queue +conn#2 +1 \(new\) +200 +close +- +\d/);
      expect(err.message).to.include('the server answered "Connection: close"');
    });
  });

  it("records a keep-alive client as reset against a server with policy 'close'", async () => {
    recorder = await recordConnections(app('close'));
    await sendKeepAlive(recorder.url + 'queue', 3);
    await expectResetConnection(recorder);
    const err = await rejection(expectReusedConnection(recorder));
    expect(err.message).to.match(/carried only one/);
  });

  it('records the Connection and Keep-Alive each response went out with, and shows them when an assertion fails', async () => {
    recorder = await recordConnections(app());
    await sendKeepAlive(recorder.url + 'queue', 2);
    // Written by Node from the policy's fields (no setHeader): read from the head on the wire.
    expect(recorder.requests.map((r) => [r.connectionHeader, r.keepAliveHeader])).to.deep.equal([
      ['keep-alive', 'timeout=64'],
      ['keep-alive', 'timeout=64'],
    ]);
    const report = await expectReusedConnection(recorder);
    expect(report.requests.map((r) => [r.connection, r.keepAlive])).to.deep.equal([
      ['keep-alive', 'timeout=64'],
      ['keep-alive', 'timeout=64'],
    ]);
    await recorder.close();

    recorder = await recordConnections(app('close'));
    await sendKeepAlive(recorder.url + 'queue', 2);
    const err = await rejection(expectReusedConnection(recorder));
    expect(err.message).to.include('the server answered "Connection: close"');
    expect(err.message).to.match(/#1 +GET +\/queue +conn#\d +1 \(new\) +200 +close +- /);
    expect(err.message).to.match(/#2 +GET +\/queue +conn#\d +1 \(new\) +200 +close +- /);
    expect((await expectResetConnection(recorder)).requests.map((r) => r.connection)).to.deep.equal(['close', 'close']);
  });

  it('records a repeated Keep-Alive field as every value on the wire (the duplicate hint it exists to show)', async () => {
    // A server without the policy whose handler adds a hint of its own beside Node's:
    // two Keep-Alive fields in one head, the bug a reviewer must be able to see.
    recorder = await recordConnections((req, res) => {
      res.writeHead(200, ['Keep-Alive', 'timeout=5', 'Keep-Alive', 'timeout=64', 'Content-Length', '2']);
      res.end('ok');
    });
    await sendKeepAlive(recorder.url, 2);
    expect(recorder.requests.map((r) => r.keepAliveHeader)).to.deep.equal(['timeout=5, timeout=64', 'timeout=5, timeout=64']);
    const report = await expectReusedConnection(recorder);
    expect(report.requests.map((r) => r.keepAlive)).to.deep.equal(['timeout=5, timeout=64', 'timeout=5, timeout=64']);
  });

  it('a wrong request count names the assertion that was called', async () => {
    recorder = await recordConnections(app());
    await (await fetch(recorder.url + 'queue')).text();
    const reset = await rejection(expectResetConnection(recorder, { requests: 5 }));
    expect(reset).to.be.instanceOf(AssertionError);
    expect((reset as AssertionError).operator).to.equal('expectResetConnection');
    const reused = await rejection(expectReusedConnection(recorder, { requests: 5 }));
    expect((reused as AssertionError).operator).to.equal('expectReusedConnection');
  });

  it('never changes a response: status, headers and body are the same with and without recording', async () => {
    const server = http.createServer(app());
    const port = await listen(server);
    const exchange = async () => {
      const c = await RawClient.send(port, get('/queue'));
      const res = await c.response();
      c.destroy();
      const { date, ...headers } = res.headers;
      expect(date).to.have.length(1);
      return { statusLine: res.statusLine, body: res.body, headers };
    };
    try {
      const without = await exchange();
      recorder = await recordConnections(server);
      const withIt = await exchange();
      expect(withIt).to.deep.equal(without);
      expect(recorder.requests).to.have.length(1);
      // close() on a server it did not start stops recording and leaves the server running.
      await recorder.close();
      recorder = undefined;
      expect(server.listening).to.equal(true);
      await exchange();
    } finally {
      await closeServer(server);
    }
  });

  it('takes a request listener and a server that is not listening, and closes what it started', async () => {
    recorder = await recordConnections((req, res) => res.end('plain'));
    const res = await fetch(recorder.url);
    expect(await res.text()).to.equal('plain');
    await recorder.close();
    const server = http.createServer((req, res) => res.end('s'));
    recorder = await recordConnections(server);
    expect(server.listening).to.equal(true);
    await recorder.close();
    recorder = undefined;
    expect(server.listening).to.equal(false);
  });

  it('fails when fewer than two requests were recorded, or not the number asked for', async () => {
    recorder = await recordConnections(app());
    await (await fetch(recorder.url + 'queue')).text();
    expect((await rejection(expectReusedConnection(recorder))).message).to.match(/^expected at least 2 recorded requests/);
    expect((await rejection(expectResetConnection(recorder, { requests: 2 }))).message).to.match(
      /^expected 2 recorded requests, but 1 arrived/,
    );
  });

  it('counts connections, and judges reuse from the server side, also for connections open before clear()', async () => {
    recorder = await recordConnections(app());
    const url = recorder.url + 'queue';
    await withAgents(1, async ([early]) => {
      await send(url, early!);
      await send(url, early!);
      recorder!.clear();
      // The early connection's third request, alone in the record, is a reused one.
      await send(url, early!);
      await sendKeepAlive(url, 2);
    });
    expect(recorder.connections).to.equal(2);
    expect(recorder.requests.map((r) => [r.connection, r.ordinal])).to.deep.equal([
      [1, 3],
      [2, 1],
      [2, 2],
    ]);
    const report = await expectReusedConnection(recorder, { requests: 3, connections: 2 });
    expect(report.requests.map((r) => [r.socket, r.reused, r.serverConnection])).to.deep.equal([
      [1, true, '1;req=3'],
      [2, false, '2;req=1'],
      [2, true, '2;req=2'],
    ]);
    // ms: from the first recorded request.
    expect(report.requests[0]!.ms).to.equal(0);
    for (const r of report.requests) expect(r.ms).to.be.within(0, 5000);
    const over = await rejection(expectReusedConnection(recorder, { connections: 1 }));
    expect(over.message).to.match(/^expected at most 1 connection, but the 3 requests used 2\n/);
    const reset = await rejection(expectResetConnection(recorder));
    expect(reset.message).to.match(
      /^expected each of 3 requests to arrive on a new connection, but 2 arrived on a reused one \(2 connections\)/,
    );
    // A reused request's row shows its ordinal alone; a new one's says so.
    expect(reset.message).to.match(/\n {2}#1 +GET +\/queue +conn#1 +3 +200 /);
    expect(reset.message).to.match(/\n {2}#2 +GET +\/queue +conn#2 +1 \(new\) +200 /);
  });

  it('fails a reset check where each request came on a connection of its own that was opened before clear()', async () => {
    recorder = await recordConnections(app());
    const url = recorder.url + 'queue';
    await withAgents(2, async (agents) => {
      for (const agent of agents) await send(url, agent);
      recorder!.clear();
      for (const agent of agents) await send(url, agent);
    });
    const err = await rejection(expectResetConnection(recorder));
    expect(err.message).to.match(/^expected each of 2 requests to arrive on a new connection, but 2 arrived on a reused one/);
  });

  it('fails with nothing recorded, and names a wrong count first', async () => {
    recorder = await recordConnections(app());
    const none = await rejection(expectResetConnection(recorder));
    expect(none).to.be.instanceOf(AssertionError);
    expect(none.message).to.match(/^expected recorded requests, but none arrived\n/);
    await sendKeepAlive(recorder.url + 'queue', 2);
    const count = await rejection(expectReusedConnection(recorder, { requests: 5 }));
    expect(count.message).to.match(/^expected 5 recorded requests, but 2 arrived\n/);
  });

  it('a response that goes out without Connection or Keep-Alive is recorded without them', async () => {
    // HTTP/1.0 without keep-alive, Connection removed by the handler: Node writes neither field.
    recorder = await recordConnections((req, res) => {
      res.removeHeader('connection');
      res.end('plain');
    });
    const c = await RawClient.send(Number(new URL(recorder.url).port), 'GET / HTTP/1.0\r\n\r\n');
    try {
      const res = await c.response();
      expect(res.headers).to.not.have.any.keys('connection', 'keep-alive');
    } finally {
      c.destroy();
    }
    expect(recorder.requests).to.have.length(1);
    expect(recorder.requests[0]).to.not.have.any.keys('connectionHeader', 'keepAliveHeader');
    expect(recorder.requests[0]).to.include({ status: 200 });
    const report = await expectResetConnection(recorder, { requests: 1 });
    expect(report.requests[0]).to.not.have.any.keys('connection', 'keepAlive');
  });

  it('close() of a server it started ends connections still waiting for a response', async () => {
    const sockets: Array<import('node:net').Socket> = [];
    recorder = await recordConnections((req) => void sockets.push(req.socket));
    const pending = fetch(recorder.url).then(
      () => 'answered',
      () => 'failed',
    );
    while (sockets.length === 0) await turn();
    // Bounded, and the socket destroyed after, so that a close() that waits fails the test and not the run.
    const closed = await Promise.race([recorder.close().then(() => true), sleep(2000).then(() => false)]);
    for (const socket of sockets) socket.destroy();
    recorder = undefined;
    expect(closed).to.equal(true);
    expect(await pending).to.equal('failed');
  });

  it('stops recording at close() on a server it did not start', async () => {
    const server = http.createServer(app());
    await listen(server);
    try {
      const r = await recordConnections(server);
      await sendKeepAlive(r.url + 'queue', 1);
      await r.close();
      await sendKeepAlive(r.url + 'queue', 1);
      expect(r.requests).to.have.length(1);
    } finally {
      await closeServer(server);
    }
  });

  it('rejects bad options and targets with a clear error', async () => {
    recorder = await recordConnections(app());
    const err = await expectReusedConnection(recorder, { connections: 0 }).catch((e: Error) => e);
    expect(err).to.be.instanceOf(RangeError);
    expect((err as Error).message).to.match(/^expectReusedConnection\(\): option "connections" must be an integer ≥ 1; got 0/);
    const unknown = await expectResetConnection(recorder, { connections: 1 } as never).catch((e: Error) => e);
    expect((unknown as Error).message).to.match(/unknown option "connections"/);
    const bad = await recordConnections('http://x' as never).catch((e: Error) => e);
    expect(bad).to.be.instanceOf(TypeError);
    expect((bad as Error).message).to.match(/^recordConnections\(\): target must be.*; got string$/);
    const none = await recordConnections(null as never).catch((e: Error) => e);
    expect((none as Error).message).to.match(/; got null$/);
    const fraction = await expectReusedConnection(recorder, { connections: 1.5 }).catch((e: Error) => e);
    expect(fraction).to.be.instanceOf(RangeError);
    expect((fraction as Error).message).to.match(/option "connections" must be an integer ≥ 1; got 1\.5/);
  });
});
