import { expect } from 'chai';
import http2 from 'node:http2';
import https from 'node:https';
import { runTs, type Child } from './helpers/child.js';

// examples/http2-server.ts: h2c and TLS (HTTP/2 and, with allowHTTP1, HTTP/1.1) under
// one policy, drained on SIGTERM with GOAWAY.
describe('examples/http2-server.ts', function () {
  this.timeout(30_000);
  let child: Child | undefined;
  const closers: Array<() => void> = [];
  afterEach(() => {
    for (const c of closers.splice(0)) c();
    child?.kill();
  });

  function session(url: string) {
    const s = http2.connect(url, { rejectUnauthorized: false });
    s.on('error', () => {});
    closers.push(() => s.destroy());
    const get = (path: string) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const req = s.request({ ':path': path });
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (d: string) => (body += d));
        req.on('end', () => resolve(JSON.parse(body) as Record<string, unknown>));
        req.on('error', reject);
        req.end();
      });
    return { session: s, get };
  }

  it('serves h2c, h2 over TLS and HTTP/1.1 over TLS with one policy, and drains every session with GOAWAY on SIGTERM', async () => {
    child = runTs('examples/http2-server.ts', ['--port', '0', '--tls-port', '0', '--drain-spread', '0']);
    const [, h2cUrl, tlsUrl] = await child.waitFor(/listening on (http:\/\/\S+) \(h2c\) and (https:\/\/\S+) \(h2/);
    const h2c = session(h2cUrl!);
    const a = await h2c.get('/');
    const b = await h2c.get('/');
    expect(a).to.include({ httpVersion: '2.0', requests: 1, reused: false });
    expect(b).to.include({ httpVersion: '2.0', id: a.id, requests: 2, reused: true });
    const secure = session(tlsUrl!);
    expect(await secure.get('/')).to.include({ httpVersion: '2.0', requests: 1 });
    const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
    closers.push(() => agent.destroy());
    const h1 = await new Promise<{ body: Record<string, unknown>; connection: string | undefined }>((resolve, reject) => {
      https
        .get(tlsUrl!, { agent }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ body: JSON.parse(body) as Record<string, unknown>, connection: res.headers.connection }));
        })
        .on('error', reject);
    });
    expect(h1.body).to.include({ httpVersion: '1.1', requests: 1 });
    expect(h1.connection).to.equal('keep-alive');
    const goaways: string[] = [];
    h2c.session.on('goaway', () => goaways.push('h2c'));
    secure.session.on('goaway', () => goaways.push('tls'));
    child.process.kill('SIGTERM');
    const drained = JSON.parse((await child.waitFor(/drained: (\{.*\})/))[1]!) as { graceful: number; destroyed: number };
    expect(await child.exited()).to.equal(0);
    expect(drained).to.deep.equal({ graceful: 3, destroyed: 0 });
    // One GOAWAY event or more per session (Node 24 and later write the second phase at once).
    expect([...new Set(goaways)].sort()).to.deep.equal(['h2c', 'tls']);
  });
});
