import { Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse, ServerHttp2Stream } from 'node:http2';
import { Server as HttpsServer } from 'node:https';
import { inspect } from 'node:util';
import { Admission } from './admission.js';
import { PolicyCore } from './core.js';
import { debug } from './debug.js';
import { resolveDrainOptions, runDrain, type DrainOptions } from './drain.js';
import type { Connection } from './connections.js';
import { adapters, type FastifyPlugin, type HonoMiddleware, type KoaMiddleware } from './frameworks.js';
import { http1, type Transport } from './http1.js';
import { isHttp2Server, type AnyHttp2Server } from './http2.js';
import { resolveOptions, type ConnectionPolicyOptions, type ResolvedOptions } from './options.js';
import { readinessHandler } from './readiness.js';
import { connectionEventOf } from './server.js';
import type { ConnectionStats, DrainResult } from './stats.js';

/** The middleware `connectionPolicy()` returns, with its server-wide methods. */
export interface ConnectionPolicy {
  (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void;
  /**
   * Tracks connections from accept, applies `noDelay` / `tcpKeepAlive` there, and
   * aligns Node's own timers with the policy. Returns the server. Idempotent.
   * An `http2` server's sessions are connections too (GOAWAY where HTTP/1.1 would
   * close); its HTTP/1.1 connections (`allowHTTP1`) get the HTTP/1.1 policy.
   * Anything else throws a `TypeError`.
   */
  attach<S extends HttpServer | AnyHttp2Server>(server: S): S;
  /** Graceful shutdown of kept-alive connections; calling it again returns the same promise. */
  drain(options?: DrainOptions): Promise<DrainResult>;
  /**
   * An `AbortSignal` for a long-lived request (server-sent events, long polling, or
   * the `req` of an attached server's `'upgrade'` event): aborted when a drain
   * reaches it, at the end of `delay` or at its own moment within `spread`, with a
   * `reason` whose `code` is `'CONNECTION_POLICY_DRAIN'`. The drain waits for a
   * request that asked until `timeout`. Same request, same signal; throws a
   * `TypeError` for a request on a connection the policy does not track.
   */
  drainSignal(req: IncomingMessage | Http2ServerRequest | ServerHttp2Stream): AbortSignal;
  /** A fresh snapshot of the connections this policy has seen. */
  stats(): ConnectionStats;
  /** True from the first `drain()` call on (during its `delay` too). */
  readonly draining: boolean;
  /**
   * A request handler for a readiness / health-check route: `200 ready` while the
   * policy is not draining, `503 draining` with `Connection: close` from the first
   * `drain()` call on. Works as an Express handler and as a `node:http` one.
   */
  readiness(): (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void;
  /** The validated options, frozen. */
  readonly options: ResolvedOptions;
  /**
   * A Fastify plugin: `await fastify.register(policy.fastify)`, first. It runs the
   * policy in the first `onRequest` hook (on `request.raw` / `reply.raw`), attaches
   * the server when Fastify is ready, and drains in `preClose`, so `fastify.close()`
   * resolves once the drain has. Applies to the root instance (as `fastify-plugin`).
   */
  readonly fastify: FastifyPlugin;
  /** Koa middleware: `app.use(policy.koa)`, first (then `policy.attach(server)`). */
  readonly koa: KoaMiddleware;
  /**
   * Hono middleware for `@hono/node-server`: `app.use(policy.hono)`, first (then
   * `policy.attach(server)` on what `serve()` returns). Elsewhere it only calls `next()`.
   */
  readonly hono: HonoMiddleware;
}

/**
 * Creates the middleware: `app.use(connectionPolicy())`, first, so every response
 * passes through it. Options are validated here, once; a bad one throws.
 */
export function connectionPolicy(options?: ConnectionPolicyOptions): ConnectionPolicy {
  const core = new PolicyCore(resolveOptions(options));
  const { tracker, servers } = core;
  const admission = new Admission(core);
  const readiness = readinessHandler(() => core.draining);
  let drainPromise: Promise<DrainResult> | undefined;

  /** Accept: a connection that never sends a request is idle from the start. */
  function onConnection(socket: import('node:net').Socket): void {
    if (tracker.get(socket) !== undefined) return;
    core.idle.accepted(socket, tracker.track(socket));
  }

  const methods = {
    attach<S extends HttpServer | AnyHttp2Server>(server: S): S {
      if (servers.has(server)) return server;
      if (isHttp2Server(server)) {
        core.http2.adopt(server, onConnection);
      } else if (server instanceof HttpServer || server instanceof HttpsServer) {
        server.on(connectionEventOf(server), onConnection);
      } else {
        throw new TypeError(
          `attach(server): expected an http, https or http2 server; got ${inspect(server, { depth: 0, breakLength: Infinity })}`,
        );
      }
      servers.add(server);
      admission.adopt(server);
      if (debug.enabled) {
        debug(
          'attach: idleTimeout %d ms, keepAliveTimeout %d ms',
          core.options.idleTimeout,
          (server as HttpServer).keepAliveTimeout,
        );
      }
      return server;
    },
    drain(drainOptions?: DrainOptions): Promise<DrainResult> {
      if (drainPromise !== undefined) return drainPromise;
      const resolved = resolveDrainOptions(drainOptions);
      // From here on every response head says `Connection: close` (decide.ts rule 4),
      // and readiness answers 503.
      core.draining = true;
      if (debug.enabled) debug('drain: called, delay %d ms', resolved.delay);
      const transportOf = (connection: Connection) =>
        (tracker.get(connection)?.session === undefined ? http1 : core.http2.transport) as Transport<Connection>;
      drainPromise = runDrain({ tracker, servers, signals: core.signals, transportOf }, resolved);
      return drainPromise;
    },
    drainSignal: (req: IncomingMessage | Http2ServerRequest | ServerHttp2Stream): AbortSignal => core.signals.signalFor(req),
    stats: (): ConnectionStats => tracker.stats(),
    readiness: () => readiness,
    options: core.options,
  };
  const frameworks = adapters(
    admission.middleware,
    (server) => methods.attach(server),
    () => methods.drain(),
  );
  const middleware = Object.assign(admission.middleware, methods, frameworks);
  return Object.defineProperty(middleware, 'draining', { get: () => core.draining, enumerable: true }) as ConnectionPolicy;
}
