import type { EventEmitter } from 'node:events';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { decisionChannel } from './channels.js';
import { ConnectionTracker, type ConnectionState } from './connections.js';
import { debug } from './debug.js';
import { decide, type Decision } from './decide.js';
import { resolveDrainOptions, type DrainOptions } from './drain.js';
import { headHook } from './head-hook.js';
import { hasToken, keepAliveValue } from './headers.js';
import { connectionInfo, setConnectionInfo, type ConnectionInfo } from './info.js';
import { responseInFlight, restoreNodeHint, serverOf, setKeepAliveHint } from './node-internals.js';
import { resolveOptions, type ConnectionPolicyOptions, type PolicyAnswer, type ResolvedOptions } from './options.js';
import { alignServerTimers, connectionEventOf } from './server.js';
import type { ConnectionStats, DrainResult } from './stats.js';

/** The middleware `connectionPolicy()` returns, with its server-wide methods. */
export interface ConnectionPolicy {
  (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void;
  /**
   * Tracks connections from accept, applies `noDelay` / `tcpKeepAlive` there, and
   * aligns Node's own timers with the policy. Returns the server. Idempotent.
   */
  attach<S extends HttpServer>(server: S): S;
  /** Graceful shutdown of kept-alive connections; calling it again returns the same promise. */
  drain(options?: DrainOptions): Promise<DrainResult>;
  /** A fresh snapshot of the connections this policy has seen. */
  stats(): ConnectionStats;
  /** True from the first `drain()` call on (during its `delay` too). */
  readonly draining: boolean;
  /**
   * A request handler for a readiness / health-check route: `200 ready` while the
   * policy is not draining, `503 draining` with `Connection: close` from the first
   * `drain()` call on. Works as an Express handler and as a `node:http` one.
   */
  readiness(): (req: IncomingMessage, res: ServerResponse) => void;
  /** The validated options, frozen. */
  readonly options: ResolvedOptions;
}

/** Statuses and methods whose responses have no body, so need no length to be delimited. */
function isBodyless(req: IncomingMessage, res: ServerResponse): boolean {
  const status = res.statusCode;
  return req.method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
}

/**
 * Creates the middleware: `app.use(connectionPolicy())`, first, so every response
 * passes through it. Options are validated here, once; a bad one throws.
 */
export function connectionPolicy(options?: ConnectionPolicyOptions): ConnectionPolicy {
  const resolved = resolveOptions(options);
  const tracker = new ConnectionTracker(resolved);
  const servers = new Set<HttpServer>();
  let drainPromise: Promise<DrainResult> | undefined;
  const policy = resolved.policy;
  const fixedAnswer = { answer: policy === 'close' ? 'close' : 'keep-alive', from: `policy '${String(policy)}'` } as const;
  const askFixed = () => fixedAnswer;
  /** The hint Node writes on the fast path: `timeout=T`, or none with `advertise: false`. */
  const hintSeconds = resolved.advertise ? resolved.advertisedTimeout : 0;
  const finiteMaxRequests = Number.isFinite(resolved.maxRequests);
  const finiteMaxAge = resolved.maxAge !== Infinity;
  const exposeId = resolved.exposeConnectionId;
  /**
   * Whether a request's answer can be known when it arrives: a fixed keep-alive
   * policy (a function is asked when the head is written, as documented), and no
   * debug log (which reports every decision with its reason).
   */
  const fastPolicy = policy === 'keep-alive' && !debug.enabled;
  let draining = false;

  function onConnection(socket: Socket): void {
    if (tracker.get(socket) !== undefined) return;
    const state = tracker.track(socket, true);
    // A connection that never sends a request is idle from the start.
    if (!socket.destroyed) tracker.armIdle(socket, state, false);
  }

  /** Decides just before the head is written, when every handler has had its say. */
  function applyDecision(req: IncomingMessage, res: ServerResponse, state: ConnectionState, info: ConnectionInfo): Decision {
    const http10 = req.httpVersionMinor === 0;
    const decision = decide({
      requestConnection: req.headers.connection,
      http10,
      responseConnection: res.getHeader('connection'),
      // Only HTTP/1.0 lacks chunked coding; HTTP/1.1 bodies are always delimited.
      delimited: !http10 || res.hasHeader('content-length') || isBodyless(req, res),
      draining,
      // A function is asked (lazily: rules 1–3 may settle it first); a fixed answer costs nothing.
      askPolicy: typeof policy === 'function' ? () => askPolicyFunction(policy, req, info) : askFixed,
      requests: info.requests,
      maxRequests: resolved.maxRequests,
      // No clock read per response unless an age limit applies.
      age: state.ageLimit === Infinity ? 0 : Date.now() - state.openedAt,
      ageLimit: state.ageLimit,
    });
    if (decision.keepAlive) {
      // Always explicit here: a `Connection` header of ours also keeps Node from adding a
      // Keep-Alive hint of its own, so exactly one, ours, or none.
      if (!res.hasHeader('connection')) res.setHeader('Connection', 'keep-alive');
      if (resolved.advertise) {
        res.setHeader('Keep-Alive', keepAliveValue(resolved.advertisedTimeout, resolved.maxRequests - info.requests));
      } else {
        res.removeHeader('Keep-Alive');
      }
    } else {
      tracker.markClosing(state, decision.closedBy ?? 'policy');
      // Node ends the socket after a response that carries `Connection: close`,
      // once it has been written in full (RFC 9112 §9.6), and writes no response
      // queued behind it on a pipelined connection.
      res.setHeader('Connection', 'close');
      res.removeHeader('Keep-Alive');
    }
    if (exposeId !== false) res.setHeader(exposeId, `${info.id};req=${info.requests}`);
    if (debug.enabled) {
      debug('sock#%d req#%d %s: %s', info.id, info.requests, decision.keepAlive ? 'keep-alive' : 'close', decision.reason);
    }
    if (decisionChannel.hasSubscribers) {
      decisionChannel.publish({ request: req, response: res, info, keepAlive: decision.keepAlive, reason: decision.reason });
    }
    return decision;
  }

  // The listeners below are shared by every response (`this` is the response),
  // so none is allocated per request.

  /**
   * on-headers listener: the whole decision, at head time. A response whose
   * request never reached the middleware (written by a route before it) is left
   * to Node (rule 6), except during a drain, when every response closes.
   */
  function decideAtHead(this: ServerResponse): void {
    const req = this.req;
    const state = tracker.get(req.socket);
    // Released already: the client went away before the head, and nothing will be written.
    if (state === undefined) return;
    const info = connectionInfo(req)!;
    if (!draining && state.passed < info.requests) {
      restoreNodeHint(this);
      return;
    }
    applyDecision(req, this, state, info);
  }

  /**
   * on-headers listener of a request answered at arrival: the answer stands (Node
   * writes the head) unless a handler set its own `Connection` or `Keep-Alive`
   * (rule 2), a drain began, the connection outgrew its age limit meanwhile, or
   * the request never reached the middleware.
   */
  function checkAtHead(this: ServerResponse): void {
    if (draining || this.hasHeader('connection') || this.hasHeader('keep-alive')) {
      decideAtHead.call(this);
      return;
    }
    const req = this.req;
    const state = tracker.get(req.socket);
    if (state === undefined) return;
    const requests = connectionInfo(req)!.requests;
    if (state.passed < requests) {
      restoreNodeHint(this);
    } else if (finiteMaxAge && Date.now() - state.openedAt >= state.ageLimit) {
      decideAtHead.call(this);
    } else if (exposeId !== false) {
      this.setHeader(exposeId, `${state.id};req=${requests}`);
    }
  }

  const hookDecide = headHook(decideAtHead);
  const hookCheck = headHook(checkAtHead);

  /** `'close'` of a response, where Node's idle timer is not `idleTimeout`: arm ours. */
  function afterResponse(this: ServerResponse): void {
    const socket = this.req.socket;
    // A drain ends the connection itself; a pipelined response still in flight arms on its own close.
    if (draining || socket.destroyed || socket.writableEnded || responseInFlight(socket) !== undefined) return;
    const state = tracker.get(socket);
    if (state !== undefined && state.closeReason === undefined) tracker.armIdle(socket, state, true);
  }

  /**
   * The per-request work: on an attached server from its `'request'` event (before
   * any framework has touched the request: Express gives every request and
   * response a prototype of its own, after which each property a middleware writes
   * costs the engine a slow path), otherwise from the middleware. Returns the
   * connection's state, or `undefined` where no handler may run (rule 7).
   */
  function admit(req: IncomingMessage, res: ServerResponse, socket: Socket, byListener: boolean): ConnectionState | undefined {
    // A request on a connection we already ended (drain) has reached no handler yet:
    // refusing it now is safe for the client to retry; answering is impossible.
    if (socket.writableEnded) {
      if (debug.enabled) debug('request on an ended connection refused before any handler');
      socket.destroy();
      return undefined;
    }
    const state = tracker.get(socket) ?? tracker.track(socket, byListener);
    // Rule 7: a pipelined request behind a response that closes the connection will
    // never be answered (Node writes nothing after that response), so its handler
    // must not run either: the client retries it on a new connection (RFC 9112 §9.3.2).
    if (state.closeReason !== undefined) {
      if (debug.enabled) debug('sock#%d pipelined request after a closing response: not handled', state.id);
      return undefined;
    }
    tracker.requestStarted(socket, state);
    const requests = state.requests;
    // A plain object (typed readonly): freezing it on every request costs more than it protects.
    setConnectionInfo(req, { id: state.id, requests, reused: requests > 1, openedAt: state.openedAt });
    if (
      fastPolicy &&
      !draining &&
      req.httpVersionMinor === 1 &&
      requests < resolved.maxRequests &&
      !hasToken(req.headers.connection, 'close') &&
      (!finiteMaxAge || Date.now() - state.openedAt < state.ageLimit) &&
      !decisionChannel.hasSubscribers
    ) {
      // Rule 4 keeps it alive (rules 1 and 3 cannot apply): Node writes `Connection:
      // keep-alive` and, from these fields, exactly our hint — and neither on a
      // response that ends up closing.
      setKeepAliveHint(res, hintSeconds, finiteMaxRequests ? resolved.maxRequests - requests : 0);
      hookCheck(res);
    } else {
      hookDecide(res);
    }
    if (state.rearm) res.on('close', afterResponse);
    return state;
  }

  /**
   * `'request'` listener, ahead of the application's: added by `attach()`, or by the
   * middleware on the first request it sees from a server. A connection the
   * middleware started tracking before the listener existed stays the middleware's.
   */
  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    if (req.httpVersionMajor !== 1 || !socket) return;
    const state = tracker.get(socket);
    if (state === undefined || state.byListener) admit(req, res, socket, true);
  }

  const listened = new WeakSet<EventEmitter>();
  function listenOn(server: EventEmitter | undefined): void {
    if (server === undefined || listened.has(server)) return;
    listened.add(server);
    server.prependListener('request', onRequest);
  }

  function connectionPolicyMiddleware(req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void {
    const socket = req.socket;
    // Rule 6: a head already written is not ours to change; HTTP/2 has no
    // connection-specific header fields at all (RFC 9113 §8.2.2).
    if (res.headersSent || req.httpVersionMajor !== 1 || !socket) {
      if (debug.enabled) debug('left alone: %s', res.headersSent ? 'head already written' : 'not HTTP/1.x');
      next();
      return;
    }
    let state = tracker.get(socket);
    if (state !== undefined && state.byListener) {
      // The server's 'request' listener has done the work; no info means it refused
      // the request (rule 7), and its handler must not run.
      const info = connectionInfo(req);
      if (info === undefined || info.id !== state.id) return;
      state.passed = info.requests;
      next();
      return;
    }
    state = admit(req, res, socket, false);
    // Later requests from this server are admitted before the framework runs.
    listenOn(serverOf(socket) as EventEmitter | undefined);
    if (state === undefined) return;
    state.passed = state.requests;
    next();
  }

  function readinessHandler(req: IncomingMessage, res: ServerResponse): void {
    const body = draining ? 'draining' : 'ready';
    res.statusCode = draining ? 503 : 200;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Content-Length', body.length);
    // A cached "ready" would hide the drain from whoever asks through a cache.
    res.setHeader('Cache-Control', 'no-store');
    // The checker's connection must not outlive the instance.
    if (draining) res.setHeader('Connection', 'close');
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  const methods = {
    attach<S extends HttpServer>(server: S): S {
      if (servers.has(server)) return server;
      servers.add(server);
      server.on(connectionEventOf(server), onConnection);
      listenOn(server);
      alignServerTimers(server, resolved.idleTimeout);
      if (debug.enabled)
        debug('attach: idleTimeout %d ms, keepAliveTimeout %d ms', resolved.idleTimeout, server.keepAliveTimeout);
      return server;
    },
    drain(drainOptions?: DrainOptions): Promise<DrainResult> {
      if (drainPromise !== undefined) return drainPromise;
      const resolvedDrain = resolveDrainOptions(drainOptions);
      // From here on every response head says `Connection: close` (the middleware
      // and its head-time check read this flag), and readiness answers 503.
      draining = true;
      if (debug.enabled) debug('drain: called, delay %d ms', resolvedDrain.delay);
      drainPromise = tracker.drain(servers, resolvedDrain);
      return drainPromise;
    },
    stats(): ConnectionStats {
      return tracker.stats();
    },
    readiness() {
      return readinessHandler;
    },
    options: resolved,
  };
  const middleware = Object.assign(connectionPolicyMiddleware, methods);
  return Object.defineProperty(middleware, 'draining', { get: () => draining, enumerable: true }) as ConnectionPolicy;
}

let warnedPolicyFunction = false;

/**
 * A policy function runs inside `writeHead`: an exception there would surface in
 * whatever handler wrote the response. So it is caught, the connection is closed
 * (always correct under RFC 9112), and the problem is reported once as a warning.
 */
function askPolicyFunction(
  fn: (req: IncomingMessage, info: ConnectionInfo) => PolicyAnswer,
  req: IncomingMessage,
  info: ConnectionInfo,
): { answer: PolicyAnswer; from: string } {
  let answer: unknown;
  try {
    answer = fn(req, info);
  } catch (err) {
    warnPolicyFunction(`threw ${String(err)}`);
    return { answer: 'close', from: 'policy function (threw)' };
  }
  if (answer === 'keep-alive' || answer === 'close') return { answer, from: 'policy function' };
  warnPolicyFunction(`returned ${String(answer)}`);
  return { answer: 'close', from: `policy function (invalid answer ${String(answer)})` };
}

function warnPolicyFunction(what: string): void {
  if (debug.enabled) debug('policy function %s; closing', what);
  if (warnedPolicyFunction) return;
  warnedPolicyFunction = true;
  process.emitWarning(
    `connectionPolicy: the policy function ${what}; it must return 'keep-alive' or 'close'. The connection is closed.`,
    { code: 'CONNECTION_POLICY_FUNCTION' },
  );
}
