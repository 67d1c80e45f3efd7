import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import { connectionPolicy } from '../src/index.js';
import { RawClient, get, request } from './helpers/raw.js';
import { eventually, nextRequest } from './helpers/wait.js';
import { FLAVORS, closeServer, listen, startServer, type TestServer, type Handler } from './helpers/servers.js';

// Odd client input never crashes the server or leaks per-connection state.
const handler: Handler = (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/upload') {
    let size = 0;
    req.on('data', (d: Buffer) => (size += d.length));
    req.on('end', () => res.end(String(size)));
    return;
  }
  if (url.pathname === '/drip') {
    // A slow streamed response the client walks away from.
    let n = 0;
    const timer = setInterval(() => {
      if (res.destroyed || n++ > 50) {
        clearInterval(timer);
        res.end();
        return;
      }
      res.write('x'.repeat(1024));
    }, 10);
    return;
  }
  if (url.pathname === '/late') {
    // Answers after its client has gone (writeHead explicitly: Node builds a head
    // even for a response whose socket is gone, where end() alone returns early).
    setTimeout(() => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('late');
      lateAnswered = true;
    }, 100);
    return;
  }
  res.end('ok');
};
let lateAnswered = false;

function settled(ts: TestServer): Promise<void> {
  return eventually(
    () => ts.policy.stats().open === 0,
    () => `nothing open; still ${JSON.stringify(ts.policy.stats())}`,
  );
}

for (const flavor of FLAVORS) {
  describe(`odd client input (${flavor})`, () => {
    let ts: TestServer;
    const clients: RawClient[] = [];
    beforeEach(async () => {
      ts = await startServer(flavor, {}, handler, { attach: true });
    });
    afterEach(async () => {
      for (const c of clients.splice(0)) c.destroy();
      await ts.close();
    });
    const open = async (payload: string) => {
      const c = await RawClient.send(ts.port, payload);
      clients.push(c);
      return c;
    };

    const malformed = [
      'Connection: ,,,',
      'Connection:',
      'Connection: close;q=1',
      'Connection: "close"',
      `Connection: ${'x,'.repeat(2000)}`,
    ];
    for (const line of malformed) {
      it(`answers a malformed Connection header (${line.slice(0, 30)})`, async () => {
        const c = await open(get('/', line));
        const res = await c.response();
        expect(res.status).to.equal(200);
        expect(res.header('connection')).to.be.oneOf(['keep-alive', 'close']);
        c.destroy();
        await settled(ts);
      });
    }

    it('answers a non-ASCII Connection header', async () => {
      const c = await RawClient.connect(ts.port);
      clients.push(c);
      c.socket.write(
        Buffer.concat([
          Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nConnection: cl'),
          Buffer.from([0xf6]),
          Buffer.from('se\r\n\r\n'),
        ]),
      );
      const res = await c.response();
      expect(res.status).to.be.oneOf([200, 400]);
      c.destroy();
      await settled(ts);
    });

    it('survives a request body aborted half-way', async () => {
      const reached = nextRequest(ts.server);
      const c = await open(request('POST', '/upload', 'HTTP/1.1', ['Host: x', 'Content-Length: 100000']) + 'x'.repeat(100));
      await reached;
      c.destroy();
      await settled(ts);
      const next = await open(get('/'));
      expect((await next.response()).status).to.equal(200);
    });

    it('survives a response written after its client has gone', async () => {
      lateAnswered = false;
      const reached = nextRequest(ts.server);
      const c = await open(get('/late'));
      await reached;
      c.destroy();
      await eventually(() => lateAnswered, 'the handler answered without an error');
      await settled(ts);
      expect(ts.policy.stats()).to.include({ open: 0, accepted: 1 });
    });

    it('survives a client that vanishes mid-response', async () => {
      const c = await open(get('/drip'));
      await eventually(() => c.rest.length > 0, 'the response started');
      c.socket.resetAndDestroy();
      await settled(ts);
      expect(ts.policy.stats().closed.error + ts.policy.stats().closed.client).to.equal(1);
    });

    it('survives a pipelined request after the client’s own Connection: close', async () => {
      const c = await open(get('/', 'Connection: close') + get('/'));
      expect((await c.response()).header('connection')).to.equal('close');
      // The request behind it is never answered (rule 7): the server ends the connection.
      expect((await c.closed(2000)).kind).to.equal('fin');
      expect(c.rest).to.equal('');
      await settled(ts);
      expect(ts.policy.stats().closed.client).to.equal(1);
    });

    it('survives garbage that is not HTTP', async () => {
      const c = await open('\x16\x03\x01\x00\xa5 not http at all\r\n\r\n');
      expect((await c.closed(2000)).kind).to.be.oneOf(['fin', 'reset']);
      await settled(ts);
    });

    it('survives a connection reset while idle, and counts it once', async () => {
      const c = await open(get('/'));
      await c.response();
      c.socket.resetAndDestroy();
      await settled(ts);
      const { closed, accepted } = ts.policy.stats();
      expect(Object.values(closed).reduce((a, b) => a + b, 0)).to.equal(accepted);
    });

    it('survives a half-open client that sends FIN right after its request', async () => {
      const socket = net.connect(ts.port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      socket.end(get('/'));
      const data = await new Promise<string>((resolve) => {
        let buf = '';
        socket.on('data', (d: Buffer) => (buf += d.toString('latin1')));
        socket.on('close', () => resolve(buf));
      });
      expect(data).to.match(/^HTTP\/1\.1 200/);
      await settled(ts);
    });
  });
}

describe('a connection gone before the middleware first sees it', () => {
  it('is counted closed at once, by its client, and never left open', async () => {
    // Middleware only: the policy first learns of the socket from a request whose
    // client reset the connection while an earlier step (here a timer) was running.
    const policy = connectionPolicy();
    const reached: net.Socket[] = [];
    const server = http.createServer((req, res) => {
      reached.push(req.socket);
      setTimeout(() => policy(req, res, () => res.end('late')), 50);
    });
    const port = await listen(server);
    try {
      const c = await RawClient.send(port, get('/'));
      await eventually(() => reached.length === 1, 'the request reached the server');
      c.socket.resetAndDestroy();
      await eventually(() => reached[0]!.destroyed, 'the server saw the reset');
      await eventually(() => policy.stats().accepted === 1, 'the middleware ran');
      expect(policy.stats()).to.deep.include({ open: 0, accepted: 1 });
      expect(policy.stats().closed).to.include({ client: 1, error: 0 });
    } finally {
      await closeServer(server);
    }
  });
});
