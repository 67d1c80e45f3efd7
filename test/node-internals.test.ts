import { expect } from 'chai';
import { TLS } from './helpers/tls.js';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import express from 'express';
import request from 'supertest';
import { RawClient, get } from './helpers/raw.js';
import { closeServer, listen } from './helpers/servers.js';
import { eventually } from './helpers/wait.js';
import {
  NODE_20_KEEP_ALIVE_BUFFER,
  isHttpSocket,
  keepAliveBufferOf,
  responseInFlight,
  serverOf,
  setKeepAliveHint,
  stopAccepting,
  supertestAgentParts,
  openStreamCount,
  outgoingHeader,
  watchSessions,
  writtenHead,
} from '../src/node-internals.js';

// Canaries: each undocumented behaviour of Node (or supertest) that src/node-internals.ts
// relies on, checked on the Node line running the suite. A failure names the assumption.
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

function assumption(name: string, holds: boolean, detail = ''): void {
  expect(holds, `Node ${process.version}: the assumption "${name}" no longer holds${detail ? ` (${detail})` : ''}`).to.equal(
    true,
  );
}

describe(`Node's internals the package relies on (Node ${process.version})`, () => {
  let server: http.Server | undefined;
  const clients: RawClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    if (server) await closeServer(server);
    server = undefined;
  });

  async function start(handler: (req: IncomingMessage, res: ServerResponse) => void, configure?: (s: http.Server) => void) {
    server = http.createServer(handler);
    configure?.(server);
    const port = await listen(server);
    const connect = async (payload?: string) => {
      const c = await RawClient.connect(port);
      clients.push(c);
      if (payload !== undefined) c.write(payload);
      return c;
    };
    return { port, connect };
  }

  it('keepAliveTimeoutBuffer: public on 22 and later, absent on 20 (a fixed 1 s)', () => {
    const s = http.createServer() as http.Server & { keepAliveTimeoutBuffer?: number };
    if (NODE_MAJOR >= 22) {
      assumption(
        'server.keepAliveTimeoutBuffer is a number, 1000 by default',
        s.keepAliveTimeoutBuffer === 1000,
        `got ${s.keepAliveTimeoutBuffer}`,
      );
      s.keepAliveTimeoutBuffer = 250;
      expect(keepAliveBufferOf(s)).to.equal(250);
    } else {
      assumption('Node 20 has no server.keepAliveTimeoutBuffer', s.keepAliveTimeoutBuffer === undefined);
      expect(keepAliveBufferOf(s)).to.equal(NODE_20_KEEP_ALIVE_BUFFER);
    }
  });

  it("Node's idle close lands at keepAliveTimeout + the buffer", async function () {
    this.timeout(8000);
    const keepAliveTimeout = 300;
    const { connect } = await start(
      (req, res) => res.end('ok'),
      (s) => {
        s.keepAliveTimeout = keepAliveTimeout;
        if (NODE_MAJOR >= 22) (s as http.Server & { keepAliveTimeoutBuffer: number }).keepAliveTimeoutBuffer = 300;
      },
    );
    const expected = keepAliveTimeout + keepAliveBufferOf(server!);
    const c = await connect(get('/'));
    await c.response();
    const t0 = Date.now();
    const closed = await c.closed(expected * 3);
    const elapsed = Date.now() - t0;
    assumption(
      'the idle close comes keepAliveTimeout + keepAliveTimeoutBuffer after the response',
      closed.kind === 'fin' && elapsed >= expected * 0.8 && elapsed <= expected * 2,
      `${closed.kind} after ${elapsed} ms, expected about ${expected}`,
    );
  });

  it('socket.server is the server that accepted the socket', async () => {
    let seen: unknown;
    const { connect } = await start((req, res) => {
      seen = serverOf(req.socket);
      res.end();
    });
    await (await connect(get('/'))).response();
    assumption('an accepted socket carries socket.server', seen === server);
  });

  it("Node's HTTP server has a 'timeout' listener of its own on every connection, and takes it off on upgrade", async () => {
    let during = -1;
    let upgraded = -1;
    const { connect } = await start((req, res) => {
      during = req.socket.listenerCount('timeout');
      res.end();
    });
    server!.on('upgrade', (req, socket: Socket) => {
      upgraded = socket.listenerCount('timeout');
      socket.end('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n');
    });
    await (await connect(get('/'))).response();
    assumption("one 'timeout' listener of Node's own on an HTTP connection", during === 1, `got ${during}`);
    const c = await connect(get('/', 'Connection: Upgrade', 'Upgrade: test'));
    await c.response({ head: true });
    assumption("no 'timeout' listener of Node's own once upgraded", upgraded === 0, `got ${upgraded}`);
    // With the policy's listener beside Node's, isHttpSocket tells the two apart.
    const s = new (await import('node:net')).Socket();
    s.on('timeout', () => {});
    expect(isHttpSocket(s)).to.equal(false);
    s.on('timeout', () => {});
    expect(isHttpSocket(s)).to.equal(true);
  });

  it('socket._httpMessage is the response in flight, and is cleared after the last one', async () => {
    let inHandler: unknown;
    let socket: Socket | undefined;
    let res1: ServerResponse | undefined;
    const { connect } = await start((req, res) => {
      socket = req.socket;
      inHandler = responseInFlight(req.socket);
      res1 = res;
      res.end('ok');
    });
    await (await connect(get('/'))).response();
    assumption('socket._httpMessage is the response while it is in flight', inHandler === res1);
    assumption('socket._httpMessage is cleared once the response finished', responseInFlight(socket!) === undefined);
  });

  it('res._keepAliveTimeout / _maxRequestsPerSocket make Node write the hint, and only where Node writes Connection: keep-alive', async () => {
    const { connect } = await start((req, res) => {
      setKeepAliveHint(res, 7, req.url === '/max' ? 3 : 0);
      if (req.url === '/handler-close') res.setHeader('Connection', 'close');
      if (req.url === '/none') setKeepAliveHint(res, 0, 0);
      res.end('ok');
    });
    const c = await connect(get('/'));
    const plain = await c.response();
    c.write(get('/max'));
    const max = await c.response();
    c.write(get('/none'));
    const none = await c.response();
    c.write(get('/handler-close'));
    const closing = await c.response();
    assumption(
      'Node writes Keep-Alive: timeout=<_keepAliveTimeout / 1000>',
      plain.header('keep-alive') === 'timeout=7',
      `got ${plain.header('keep-alive')}`,
    );
    assumption(
      'Node adds max=<_maxRequestsPerSocket>',
      max.header('keep-alive') === 'timeout=7, max=3',
      `got ${max.header('keep-alive')}`,
    );
    assumption(
      'Node writes no hint when _keepAliveTimeout is 0',
      none.count('keep-alive') === 0 && none.header('connection') === 'keep-alive',
    );
    assumption('Node writes no hint on a response whose handler set Connection', closing.count('keep-alive') === 0);
  });

  it("res._header is the head exactly as written, Node's own Connection and Keep-Alive included", async () => {
    let head: string | undefined;
    const { connect } = await start((req, res) => {
      res.once('finish', () => (head = writtenHead(res)));
      res.setHeader('X-Own', '1');
      res.end('ok');
    });
    const c = await connect(get('/'));
    const raw = await c.response();
    assumption('res._header is a string once the head is written', typeof head === 'string', `got ${typeof head}`);
    assumption(
      'res._header holds the header lines Node wrote itself',
      /\r\nConnection: keep-alive\r\n/.test(head!) &&
        /\r\nKeep-Alive: timeout=5\r\n/.test(head!) &&
        /\r\nX-Own: 1\r\n/.test(head!),
      JSON.stringify(head),
    );
    expect(raw.header('connection')).to.equal('keep-alive');
  });

  it("a response's headers are kept under its kOutHeaders symbol: null, then lower-case name → [name, value]", async () => {
    const seen: Array<[string, unknown, unknown]> = [];
    const { connect } = await start((req, res) => {
      const kOutHeaders = Object.getOwnPropertySymbols(res).find((s) => s.description === 'kOutHeaders');
      assumption('a response has an own kOutHeaders symbol', kOutHeaders !== undefined);
      assumption('kOutHeaders is null before any setHeader()', (res as never)[kOutHeaders!] === null);
      seen.push(['connection (none set)', outgoingHeader(res, 'connection'), res.getHeader('connection')]);
      res.setHeader('Keep-Alive', 'timeout=3');
      res.setHeader('CONNECTION', ['keep-alive', 'x']);
      res.appendHeader('connection', 'y');
      for (const name of ['keep-alive', 'connection', 'content-length'])
        seen.push([name, outgoingHeader(res, name), res.getHeader(name)]);
      res.removeHeader('Keep-Alive');
      seen.push(['keep-alive (removed)', outgoingHeader(res, 'keep-alive'), res.getHeader('keep-alive')]);
      res.end('ok');
    });
    await (await connect(get('/'))).response();
    for (const [what, read, public_] of seen) {
      assumption(
        `kOutHeaders gives what getHeader() gives: ${what}`,
        JSON.stringify(read) === JSON.stringify(public_),
        `${JSON.stringify(read)} vs ${JSON.stringify(public_)}`,
      );
    }
    expect(seen.map(([, read]) => read)).to.deep.equal([undefined, 'timeout=3', ['keep-alive', 'x', 'y'], undefined, undefined]);
  });

  it('net.Server.prototype.close on an http.Server stops accepting without sweeping idle connections', async () => {
    const { connect } = await start((req, res) => res.end('ok'));
    const idle = await connect(get('/'));
    await idle.response();
    stopAccepting(server!);
    assumption('the server no longer listens', server!.listening === false);
    assumption('an idle keep-alive connection is left open', (await idle.closed(200)).kind === 'open');
    idle.write(get('/'));
    expect((await idle.response()).status).to.equal(200);
  });

  it("node:http2 keeps a session's open streams in a Map under its 'state' symbol", async () => {
    const counts: Record<string, number> = {};
    let finish: (() => void) | undefined;
    let session: http2.ServerHttp2Session | undefined;
    const h2c = http2.createServer((req, res) => {
      finish = () => res.end('ok');
    });
    h2c.on('session', (s) => {
      session = s;
      counts.atSession = openStreamCount(s);
      s.on('stream', () => (counts.atStream = openStreamCount(s)));
      s.on('close', () => (counts.atClose = openStreamCount(s)));
    });
    const port = await new Promise<number>((r) => h2c.listen(0, '127.0.0.1', () => r((h2c.address() as AddressInfo).port)));
    const client = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const req = client.request({ ':path': '/' });
      req.resume();
      const ended = new Promise((resolve) => req.on('close', resolve));
      await eventually(() => finish !== undefined, 'the request');
      counts.whileOpen = openStreamCount(session!);
      finish!();
      await ended;
      await new Promise((r) => setTimeout(r, 50));
      counts.afterEnd = openStreamCount(session!);
    } finally {
      client.close();
      await new Promise((r) => h2c.close(r));
    }
    await eventually(() => 'atClose' in counts, 'the session closed');
    assumption(
      'the count is 0 at the session, 1 from its stream until it closes, 0 after',
      counts.atSession === 0 && counts.atStream === 1 && counts.whileOpen === 1 && counts.afterEnd === 0 && counts.atClose === 0,
      JSON.stringify(counts),
    );
  });

  it("node:http2 emits 'session' inside its connection listener: a prepended listener sees the session's socket first", async () => {
    const seen: Array<{ port: number | undefined; sessionPort: number | undefined; noDelay: boolean }> = [];
    const http1: number[] = [];
    const h2c = http2.createServer((req, res) => res.end('ok'));
    const secure = http2.createSecureServer({ ...TLS, allowHTTP1: true }, (req, res) => res.end('ok'));
    for (const [server, isSecure] of [
      [h2c, false],
      [secure, true],
    ] as const) {
      watchSessions(
        server,
        isSecure,
        (socket) => http1.push(socket.remotePort ?? 0),
        (session, socket) => {
          // The real socket takes setNoDelay (the session's proxy throws on it).
          let noDelay = true;
          try {
            socket?.setNoDelay(true);
          } catch {
            noDelay = false;
          }
          seen.push({ port: socket?.remotePort, sessionPort: session.socket.remotePort, noDelay });
        },
      );
    }
    const listenOn = (s: http2.Http2Server | http2.Http2SecureServer) =>
      new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
    const [p1, p2] = [await listenOn(h2c), await listenOn(secure)];
    try {
      for (const url of [`http://127.0.0.1:${p1}`, `https://127.0.0.1:${p2}`]) {
        const client = http2.connect(url, { rejectUnauthorized: false });
        await new Promise<void>((resolve, reject) => {
          const req = client.request({ ':path': '/' });
          req.resume();
          req.on('end', resolve);
          req.on('error', reject);
          req.end();
        });
        client.close();
      }
      const h1 = await new Promise<number>((resolve, reject) => {
        const socket = tls.connect({ port: p2, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () =>
          socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
        );
        socket.once('data', () => {
          resolve(socket.localPort ?? 0);
          socket.destroy();
        });
        socket.on('error', reject);
      });
      assumption(
        "'session' follows the prepended listener with that session's socket",
        seen.length === 2 && seen.every((x) => x.port !== undefined && x.port === x.sessionPort),
      );
      assumption(
        'the socket handed over is the real one (setNoDelay works)',
        seen.every((x) => x.noDelay),
      );
      await new Promise((r) => setTimeout(r, 50));
      assumption('a TLS connection without h2 goes to onHttp1', http1.includes(h1));
    } finally {
      await new Promise((r) => h2c.close(r));
      await new Promise((r) => secure.close(r));
    }
  });

  it("supertest's TestAgent keeps its target in .app and superagent records .set() in _defaults", () => {
    const plain = http.createServer();
    assumption('request.agent(server).app is the server', supertestAgentParts(request.agent(plain))?.app === plain);
    const parts = supertestAgentParts(request.agent(express()).set('X-One', '1').set({ 'X-Two': '2' }));
    assumption('request.agent(app).app is a server made for the app', parts?.app instanceof http.Server);
    assumption(
      '.set() calls are recorded in _defaults',
      parts?.headers['x-one'] === '1' && parts.headers['x-two'] === '2',
      JSON.stringify(parts?.headers),
    );
  });
});
