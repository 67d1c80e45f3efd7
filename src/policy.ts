import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import onHeaders from 'on-headers';
import { ConnectionTracker, type ConnectionState } from './connections.js';
import { debug } from './debug.js';
import { decide, type Decision } from './decide.js';
import { endSocket, resolveDrainOptions, runDrain, type DrainOptions } from './drain.js';
import { keepAliveValue } from './headers.js';
import { setConnectionInfo, type ConnectionInfo } from './info.js';
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
  /** Without a request limit the hint is the same on every response. */
  const fixedKeepAlive = Number.isFinite(resolved.maxRequests) ? undefined : keepAliveValue(resolved.advertisedTimeout, Infinity);
  const fixedAnswer = { answer: policy === 'close' ? 'close' : 'keep-alive', from: `policy '${String(policy)}'` } as const;
  const askFixed = () => fixedAnswer;

  function onConnection(socket: Socket): void {
    if (tracker.get(socket) !== undefined) return;
    const state = tracker.track(socket);
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
      draining: drainPromise !== undefined,
      // A function is asked (lazily: rules 1–3 may settle it first); a fixed answer costs nothing.
      askPolicy: typeof policy === 'function' ? () => askPolicyFunction(policy, req, info) : askFixed,
      requests: info.requests,
      maxRequests: resolved.maxRequests,
      // No clock read per response unless an age limit applies.
      age: state.ageLimit === Infinity ? 0 : Date.now() - state.openedAt,
      ageLimit: state.ageLimit,
    });
    if (decision.keepAlive) {
      // Always explicit: a `Connection` header of ours also keeps Node from adding a
      // Keep-Alive hint of its own (from keepAliveTimeout), so exactly one, ours, or none.
      if (!res.hasHeader('connection')) res.setHeader('Connection', 'keep-alive');
      if (resolved.advertise) {
        res.setHeader('Keep-Alive', fixedKeepAlive ?? keepAliveValue(resolved.advertisedTimeout, resolved.maxRequests - info.requests));
      }
    } else {
      tracker.markClosing(state, decision.closedBy ?? 'policy');
      // Node ends the socket after a response that carries `Connection: close`,
      // once it has been written in full (RFC 9112 §9.6), and writes no response
      // queued behind it on a pipelined connection.
      res.setHeader('Connection', 'close');
      res.removeHeader('Keep-Alive');
    }
    if (resolved.exposeConnectionId !== false) {
      res.setHeader(resolved.exposeConnectionId, `${info.id};req=${info.requests}`);
    }
    if (debug.enabled) {
      debug('sock#%d req#%d %s: %s', info.id, info.requests, decision.keepAlive ? 'keep-alive' : 'close', decision.reason);
    }
    return decision;
  }

  function connectionPolicyMiddleware(
    req: IncomingMessage,
    res: ServerResponse,
    next: (err?: unknown) => void,
  ): void {
    const socket = req.socket;
    // Rule 6: a head already written is not ours to change; HTTP/2 has no
    // connection-specific header fields at all (RFC 9113 §8.2.2).
    if (res.headersSent || req.httpVersionMajor !== 1 || !socket) {
      if (debug.enabled) debug('left alone: %s', res.headersSent ? 'head already written' : 'not HTTP/1.x');
      next();
      return;
    }
    // A request on a connection we already ended (drain) has reached no handler yet:
    // refusing it now is safe for the client to retry; answering is impossible.
    if (socket.writableEnded) {
      if (debug.enabled) debug('request on an ended connection refused before any handler');
      socket.destroy();
      return;
    }
    const state = tracker.get(socket) ?? tracker.track(socket);
    // Rule 7: a pipelined request behind a response that closes the connection will
    // never be answered (Node writes nothing after that response), so its handler
    // must not run either: the client retries it on a new connection (RFC 9112 §9.3.2).
    if (state.closeReason !== undefined) {
      if (debug.enabled) debug('sock#%d pipelined request after a closing response: not handled', state.id);
      return;
    }
    tracker.requestStarted(socket, state);
    // A plain object (typed readonly): freezing it on every request costs more than it protects.
    const info: ConnectionInfo = {
      id: state.id,
      requests: state.requests,
      reused: state.requests > 1,
      openedAt: state.openedAt,
    };
    setConnectionInfo(req, info);
    let keepAlive = false;
    onHeaders(res, function onResponseHeaders(this: ServerResponse) {
      keepAlive = applyDecision(req, this, state, info).keepAlive;
    });
    // 'close' comes once per response, after 'finish' or on an abort (`on`, not
    // `once`: no wrapper to allocate and remove on every request).
    res.on('close', function onResponseClose() {
      state.inFlight--;
      // Only once nothing else is in flight: a pipelined response may still be queued.
      if (!keepAlive || socket.destroyed || state.inFlight > 0) return;
      if (drainPromise !== undefined) {
        // Its head went out as keep-alive before the drain began.
        tracker.markClosing(state, 'drain');
        endSocket(socket);
      } else {
        tracker.armIdle(socket, state, true);
      }
    });
    next();
  }

  return Object.assign(connectionPolicyMiddleware, {
    attach<S extends HttpServer>(server: S): S {
      if (servers.has(server)) return server;
      servers.add(server);
      server.on(connectionEventOf(server), onConnection);
      alignServerTimers(server, resolved.idleTimeout);
      if (debug.enabled) debug('attach: idleTimeout %d ms, keepAliveTimeout %d ms', resolved.idleTimeout, server.keepAliveTimeout);
      return server;
    },
    drain(drainOptions?: DrainOptions): Promise<DrainResult> {
      if (drainPromise !== undefined) return drainPromise;
      drainPromise = runDrain(tracker, servers, resolveDrainOptions(drainOptions));
      return drainPromise;
    },
    stats(): ConnectionStats {
      return tracker.stats();
    },
    options: resolved,
  });
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
