import { expect } from 'chai';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { serve } from '@hono/node-server';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { stream as honoStream } from 'hono/streaming';
import Koa from 'koa';
import 'reflect-metadata';
import { Controller, Get, HttpCode, Module, Req, StreamableFile, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { RawClient, get, request } from './helpers/raw.js';
import {
  connectionInfo,
  connectionPolicy,
  type ConnectionInfo,
  type ConnectionPolicy,
  type ConnectionPolicyOptions,
} from '../src/index.js';

// SPEC §6: Fastify, Koa and Hono get the whole policy from one line each, on the
// wire with the framework itself: the rules of §1 on every way each sends a response.

/** What each framework's app answers, the same routes for all three. */
interface Running {
  port: number;
  policy: ConnectionPolicy;
  /** The ConnectionInfo each handler read from its framework's Node request, in order. */
  infos: Array<ConnectionInfo | undefined>;
  close(): Promise<void>;
}

type Start = (options: ConnectionPolicyOptions) => Promise<Running>;

function listening(server: Server): Promise<number> {
  if (server.listening) return Promise.resolve((server.address() as AddressInfo).port);
  return new Promise((resolve) => server.once('listening', () => resolve((server.address() as AddressInfo).port)));
}

function closeAll(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

const FRAMEWORKS: Record<string, Start> = {
  async 'Fastify 5'(options) {
    const policy = connectionPolicy(options);
    const infos: Running['infos'] = [];
    const app = Fastify();
    await app.register(policy.fastify);
    app.addHook('onRequest', (req, reply, done) => (infos.push(connectionInfo(req.raw)), done()));
    app.get('/', () => 'ok');
    app.get('/stream', (req, reply) => {
      const body = new PassThrough();
      setImmediate(() => (body.write('a'), setImmediate(() => body.end('b'))));
      return reply.type('text/plain').send(body);
    });
    app.get('/error', () => {
      throw new Error('boom');
    });
    app.get('/204', (req, reply) => reply.code(204).send());
    app.get('/304', (req, reply) => reply.code(304).send());
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { port: (app.server.address() as AddressInfo).port, policy, infos, close: () => app.close() };
  },
  async 'Koa 3'(options) {
    const policy = connectionPolicy(options);
    const infos: Running['infos'] = [];
    const app = new Koa();
    app.silent = true; // its default error handler logs to stderr
    app.use(policy.koa);
    app.use((ctx) => {
      infos.push(connectionInfo(ctx.req));
      switch (ctx.path) {
        case '/stream': {
          const body = new PassThrough();
          setImmediate(() => (body.write('a'), setImmediate(() => body.end('b'))));
          ctx.type = 'text/plain';
          ctx.body = body;
          return;
        }
        case '/error':
          throw new Error('boom');
        case '/204':
          ctx.status = 204;
          return;
        case '/304':
          ctx.status = 304;
          return;
        default:
          ctx.body = 'ok';
      }
    });
    const server = policy.attach(app.listen(0, '127.0.0.1'));
    return { port: await listening(server), policy, infos, close: () => closeAll(server) };
  },
  async 'Hono 4 on @hono/node-server 2'(options) {
    const policy = connectionPolicy(options);
    const infos: Running['infos'] = [];
    const app = new Hono<{ Bindings: { incoming: IncomingMessage } }>();
    app.use(policy.hono);
    app.use(async (c, next) => {
      infos.push(connectionInfo(c.env.incoming));
      await next();
    });
    app.get('/', (c) => c.text('ok'));
    app.get('/stream', (c) =>
      honoStream(c, async (s) => {
        await s.write('a');
        await new Promise((r) => setImmediate(r));
        await s.write('b');
      }),
    );
    app.get('/error', () => {
      throw new Error('boom');
    });
    // Hono's own 500, without its console.error of the error.
    app.onError((err, c) => c.text('Internal Server Error', 500));
    app.get('/204', (c) => c.body(null, 204));
    app.get('/304', (c) => c.body(null, 304));
    const server = policy.attach(serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server);
    return { port: await listening(server), policy, infos, close: () => closeAll(server) };
  },
};

/**
 * A NestJS app with the same routes, its decorators applied as functions (the
 * suite runs through tsx, which emits no decorator metadata): on Express with
 * `app.use(policy)` + `attach(getHttpServer())`, on Fastify with `register(policy.fastify)`.
 */
async function nest(
  platform: 'express' | 'fastify',
  options: ConnectionPolicyOptions,
  onShutdown?: (policy: ConnectionPolicy) => Promise<unknown>,
) {
  const policy = connectionPolicy(options);
  const infos: Running['infos'] = [];
  class AppController {
    hello(req: { raw?: IncomingMessage } & IncomingMessage) {
      infos.push(connectionInfo(req.raw ?? req));
      return 'ok';
    }
    stream() {
      const body = new PassThrough();
      setImmediate(() => (body.write('a'), setImmediate(() => body.end('b'))));
      return new StreamableFile(body, { type: 'text/plain' });
    }
    error(): never {
      throw new Error('boom');
    }
    noContent(): void {}
    notModified(): void {}
    async slow() {
      await new Promise((r) => setTimeout(r, 300));
      return 'slow';
    }
  }
  const route = (path: string, method: keyof AppController, status?: number) => {
    const descriptor = Object.getOwnPropertyDescriptor(AppController.prototype, method)!;
    Get(path)(AppController.prototype, method, descriptor);
    if (status !== undefined) HttpCode(status)(AppController.prototype, method, descriptor);
  };
  route('/', 'hello');
  Req()(AppController.prototype, 'hello', 0);
  route('/stream', 'stream');
  route('/error', 'error');
  route('/204', 'noContent', 204);
  route('/304', 'notModified', 304);
  route('/slow', 'slow');
  Controller()(AppController);
  class Shutdown {
    beforeApplicationShutdown() {
      return onShutdown?.(policy);
    }
  }
  class AppModule {}
  Module({ controllers: [AppController], providers: [Shutdown] })(AppModule);
  const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter();
  const app: INestApplication = await NestFactory.create(AppModule, adapter as ExpressAdapter, { logger: false });
  if (platform === 'express') app.use(policy);
  else await (app as unknown as { register(plugin: unknown): Promise<unknown> }).register(policy.fastify);
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  if (platform === 'express') policy.attach(server);
  return { port: (server.address() as AddressInfo).port, policy, infos, app };
}
FRAMEWORKS['NestJS 12 on Express'] = async (options) => {
  const { app, ...running } = await nest('express', options);
  return { ...running, close: () => app.close() };
};
FRAMEWORKS['NestJS 12 on Fastify'] = async (options) => {
  const { app, ...running } = await nest('fastify', options);
  return { ...running, close: () => app.close() };
};

for (const [name, start] of Object.entries(FRAMEWORKS)) {
  describe(`frameworks: ${name}`, function () {
    this.timeout(15_000);
    let running: Running | undefined;
    const clients: RawClient[] = [];
    afterEach(async () => {
      for (const c of clients.splice(0)) c.destroy();
      await running?.close();
      running = undefined;
    });
    async function connect(): Promise<RawClient> {
      const c = await RawClient.connect(running!.port);
      clients.push(c);
      return c;
    }

    it('the hint with its max= countdown; maxRequests closes the Nth with a FIN; the connection id', async () => {
      running = await start({ maxRequests: 3, exposeConnectionId: true });
      const c = await connect();
      const heads: Array<[string | undefined, string | undefined, string | undefined]> = [];
      for (let i = 0; i < 3; i++) {
        c.write(get('/'));
        const res = await c.response();
        expect([res.status, res.body]).to.deep.equal([200, 'ok']);
        heads.push([res.header('connection'), res.header('keep-alive'), res.header('x-connection-id')?.split(';')[1]]);
      }
      expect(heads).to.deep.equal([
        ['keep-alive', 'timeout=64, max=2', 'req=1'],
        ['keep-alive', 'timeout=64, max=1', 'req=2'],
        ['close', undefined, 'req=3'],
      ]);
      expect((await c.closed(2000)).kind).to.equal('fin');
      expect(running.infos.map((info) => info?.requests)).to.deep.equal([1, 2, 3]);
      expect(running.policy.stats().closed.maxRequests).to.equal(1);
    });

    it("a client's Connection: close, and a policy function's 'close', each end with a FIN", async () => {
      running = await start({ policy: (req) => (req.url === '/?bye' ? 'close' : 'keep-alive') });
      const a = await connect();
      a.write(get('/', 'Connection: close'));
      expect((await a.response()).header('connection')).to.equal('close');
      expect((await a.closed(2000)).kind).to.equal('fin');
      const b = await connect();
      b.write(get('/'));
      expect((await b.response()).header('connection')).to.equal('keep-alive');
      b.write(get('/?bye'));
      expect((await b.response()).header('connection')).to.equal('close');
      expect((await b.closed(2000)).kind).to.equal('fin');
      expect(running.policy.stats().closed).to.include({ client: 1, policy: 1 });
    });

    it("its error handler's 500, a streamed body, 204, 304 and HEAD each keep the connection alive with one hint", async () => {
      running = await start({});
      const c = await connect();
      const cases: Array<[string, number, boolean]> = [
        [get('/error'), 500, false],
        [get('/stream'), 200, false],
        [get('/204'), 204, false],
        [get('/304'), 304, false],
        [request('HEAD', '/', 'HTTP/1.1', [], '127.0.0.1'), 200, true],
      ];
      for (const [payload, status, head] of cases) {
        c.write(payload);
        const res = await c.response({ head });
        expect(
          [res.status, res.header('connection'), res.header('keep-alive'), res.count('keep-alive')],
          payload.split('\r\n')[0],
        ).to.deep.equal([status, 'keep-alive', 'timeout=64', 1]);
        if (status === 200 && !head) expect(res.body).to.equal('ab');
      }
      expect((await c.closed(200)).kind).to.equal('open');
      expect(running.policy.stats()).to.include({ requests: 5, reusedRequests: 4, open: 1 });
    });

    it('a drain under keep-alive load loses nothing that reached a handler, and ends every connection cleanly', async () => {
      running = await start({});
      const lanes = await Promise.all([1, 2, 3, 4].map(() => connect()));
      let answered = 0;
      let drainStarted = false;
      const failures: string[] = [];
      const loops = lanes.map(async (c) => {
        for (let i = 0; i < 200; i++) {
          c.write(get('/'));
          let res;
          try {
            res = await c.response();
          } catch (err) {
            // Sent on a connection the drain had already ended: never reached a handler.
            if (drainStarted && (await c.closed(0)).kind !== 'open') return;
            failures.push(String(err));
            return;
          }
          if (res.status !== 200 || res.body !== 'ok') failures.push(`${res.status} ${res.body}`);
          answered++;
          if (res.header('connection') === 'close') {
            expect((await c.closed(2000)).kind).to.equal('fin');
            return;
          }
        }
      });
      await new Promise((r) => setTimeout(r, 100));
      drainStarted = true;
      const result = await running.policy.drain({ timeout: 5000 });
      await Promise.all(loops);
      expect(failures).to.deep.equal([]);
      expect(result).to.deep.equal({ graceful: 4, destroyed: 0 });
      expect(running.policy.stats().requests).to.equal(answered);
    });
  });
}

/**
 * A shutdown with one idle connection and one request in flight (`/slow`, 300 ms):
 * the idle one gets a FIN, the in-flight response finishes with Connection: close
 * and its connection ends with a FIN; resolves once `close()` has.
 */
async function expectCloseDrains(port: number, close: () => Promise<unknown>): Promise<void> {
  const idle = await RawClient.connect(port);
  const busy = await RawClient.connect(port);
  try {
    idle.write(get('/'));
    await idle.response();
    busy.write(get('/slow'));
    await new Promise((r) => setTimeout(r, 50));
    const closing = close();
    expect((await idle.closed(2000)).kind).to.equal('fin');
    const res = await busy.response();
    expect([res.status, res.body, res.header('connection')]).to.deep.equal([200, 'slow', 'close']);
    expect((await busy.closed(2000)).kind).to.equal('fin');
    await closing;
  } finally {
    idle.destroy();
    busy.destroy();
  }
}

describe('frameworks: fastify.close() drains through the policy', function () {
  this.timeout(15_000);

  it('in-flight responses finish with Connection: close, idle connections get a FIN, close() resolves, nothing destroyed', async () => {
    const policy = connectionPolicy();
    const app = Fastify();
    await app.register(policy.fastify);
    app.get('/slow', async () => {
      await new Promise((r) => setTimeout(r, 300));
      return 'slow';
    });
    app.get('/', () => 'ok');
    await app.listen({ port: 0, host: '127.0.0.1' });
    await expectCloseDrains((app.server.address() as AddressInfo).port, () => app.close());
    expect(app.server.listening).to.equal(false);
    expect(policy.stats().closed).to.include({ drain: 2, error: 0 });
  });

  it('a plugin of its own: applied to the root instance (hooks of every route), once, with a name', async () => {
    const policy = connectionPolicy({ exposeConnectionId: true });
    const app = Fastify();
    await app.register(policy.fastify);
    await app.register((child, _options, done) => {
      child.get('/child', () => 'child');
      done();
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const c = await RawClient.connect((app.server.address() as AddressInfo).port);
    try {
      c.write(get('/child'));
      const res = await c.response();
      expect([res.body, res.header('x-connection-id')?.split(';')[1]]).to.deep.equal(['child', 'req=1']);
      expect(app.hasPlugin('express-connection-policy')).to.equal(true);
    } finally {
      c.destroy();
      await app.close();
    }
  });
});

describe('frameworks: NestJS shutdown, a beforeApplicationShutdown that awaits drain()', function () {
  this.timeout(15_000);
  for (const platform of ['express', 'fastify'] as const) {
    it(`on ${platform}: app.close() (what enableShutdownHooks() calls on SIGTERM) lets the in-flight response finish with Connection: close, ends idle connections with a FIN, destroys nothing`, async () => {
      let drained: unknown;
      const { app, port, policy } = await nest(platform, {}, async (p) => (drained = await p.drain({ timeout: 5000 })));
      // In a process of its own, Nest re-raises the signal once closed (test-interop's rollout does that).
      await expectCloseDrains(port, () => app.close());
      expect((app.getHttpServer() as Server).listening).to.equal(false);
      expect(drained).to.deep.equal({ graceful: 2, destroyed: 0 });
      expect(policy.stats().closed).to.include({ drain: 2, error: 0 });
    });
  }
});

describe('frameworks: attach() alone, without the adapter', () => {
  it("Fastify with policy.attach(fastify.server) only: every response is Node's own, the last as the first (rule 6)", async () => {
    const policy = connectionPolicy({ maxRequests: 2, exposeConnectionId: true });
    const app = Fastify();
    app.get('/', () => 'ok');
    await app.listen({ port: 0, host: '127.0.0.1' });
    policy.attach(app.server);
    const c = await RawClient.connect((app.server.address() as AddressInfo).port);
    try {
      const heads: Array<[string | undefined, string | undefined, string | undefined]> = [];
      for (let i = 0; i < 3; i++) {
        c.write(get('/'));
        const res = await c.response();
        heads.push([res.header('connection'), res.header('keep-alive'), res.header('x-connection-id')]);
      }
      const node = ['keep-alive', `timeout=${Math.floor(app.server.keepAliveTimeout / 1000)}`, undefined];
      expect(heads).to.deep.equal([node, node, node]);
      expect(policy.stats()).to.include({ requests: 3, open: 1 });
    } finally {
      c.destroy();
      await app.close();
    }
  });
});

describe('frameworks: policy.hono off @hono/node-server', () => {
  it('calls next() and does nothing where there is no Node request (app.request, a fetch-only runtime)', async () => {
    const policy = connectionPolicy({ exposeConnectionId: true });
    const app = new Hono();
    app.use(policy.hono);
    app.get('/', (c) => c.text('ok'));
    const res = await app.request('/');
    expect([res.status, await res.text(), res.headers.get('x-connection-id')]).to.deep.equal([200, 'ok', null]);
    expect(policy.stats().requests).to.equal(0);
  });
});
