import { expect } from 'chai';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import express from 'express';
import express4 from 'express4';
import { RawClient, get, request } from './helpers/raw.js';
import { closeServer, listen } from './helpers/servers.js';
import { connectionPolicy, type PolicyAnswer } from '../src/index.js';

// Relative to a root: `send` refuses a path with a dot-directory in it (as a mutation
// run's sandbox under .tmp/ has), and only checks the part below the root.
const ROOT = fileURLToPath(new URL('..', import.meta.url));

// The decision holds for every way Express can send a response (SPEC §1).
function buildApp(major: 4 | 5, policy: PolicyAnswer) {
  const app = major === 5 ? express() : express4();
  app.set('env', 'test'); // keeps the error handler from printing the stack traces we provoke
  app.use(connectionPolicy({ policy }));
  app.get('/send', (req, res) => void res.send('hello'));
  app.get('/json', (req, res) => void res.json({ ok: true }));
  app.get('/end', (req, res) => void res.end('raw'));
  app.get('/stream', (req, res) => {
    res.write('a');
    setTimeout(() => {
      res.write('b');
      res.end('c');
    }, 5);
  });
  app.get('/file', (req, res) => res.sendFile('package.json', { root: ROOT }));
  app.get('/204', (req, res) => void res.sendStatus(204));
  app.get('/etag', (req, res) => void res.set('ETag', '"v1"').send('same body'));
  app.get('/throw', () => {
    throw new Error('sync boom');
  });
  app.get('/reject', (req, res, next) => {
    // Express 5 catches a rejected promise itself; Express 4 needs next(err).
    const work = Promise.reject(new Error('async boom'));
    if (major === 4) work.catch(next);
    else return work;
  });
  return app;
}

const PATHS: Array<[label: string, path: string, status: number, extra?: string[], head?: boolean]> = [
  ['res.send', '/send', 200],
  ['res.json', '/json', 200],
  ['res.end', '/end', 200],
  ['streamed res.write … res.end', '/stream', 200],
  ['res.sendFile', '/file', 200],
  ['204 (sendStatus)', '/204', 204],
  ['304 (If-None-Match)', '/etag', 304, ['If-None-Match: "v1"']],
  ['HEAD', '/send', 200, [], true],
  ['error handler, sync throw', '/throw', 500],
  ['error handler, async rejection', '/reject', 500],
  ['final 404', '/nope', 404],
];

for (const major of [5, 4] as const) {
  for (const policy of ['keep-alive', 'close'] as const) {
    describe(`send paths: Express ${major}, policy '${policy}'`, () => {
      let server: http.Server;
      let port: number;
      let client: RawClient | undefined;
      before(async () => {
        server = http.createServer(buildApp(major, policy));
        port = await listen(server);
      });
      after(() => closeServer(server));
      afterEach(() => client?.destroy());

      for (const [label, path, status, extra = [], head = false] of PATHS) {
        it(label, async () => {
          client = await RawClient.send(port, request(head ? 'HEAD' : 'GET', path, 'HTTP/1.1', ['Host: x', ...extra]));
          const res = await client.response({ head });
          expect(res.status).to.equal(status);
          if (policy === 'keep-alive') {
            expect(res.header('connection')).to.equal('keep-alive');
            expect(res.header('keep-alive')).to.equal('timeout=64');
            expect((await client.closed(100)).kind).to.equal('open');
            // and the connection really carries the next request
            client.write(get('/send'));
            expect((await client.response()).status).to.equal(200);
          } else {
            expect(res.header('connection')).to.equal('close');
            expect(res.count('keep-alive')).to.equal(0);
            expect((await client.closed(2000)).kind).to.equal('fin');
          }
        });
      }
    });
  }
}
