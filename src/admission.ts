import type { EventEmitter } from 'node:events';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { closeDecided, markPassed, type ConnectionState } from './connections.js';
import type { PolicyCore } from './core.js';
import { debug } from './debug.js';
import { admission, closesWhatever, decideAtArrival, type ArrivalInput } from './decide.js';
import { HeadTime } from './head-time.js';
import { isHttp2Server, type AnyHttp2Server } from './http2.js';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { connectionInfo, setConnectionInfo, type ConnectionInfo } from './info.js';
import type { PolicyFunction } from './options.js';
import { askPolicyFunction } from './policy-function.js';
import { serverOf, setKeepAliveHint } from './node-internals.js';
import { alignServerTimers, listenAlongside } from './server.js';

type Next = (err?: unknown) => void;

/**
 * Where requests enter the policy. There are two ways in, and one step:
 *
 * - the server's `'request'` listener, prepended by `attach()`, or by the
 *   middleware on the first request it sees from a server: it admits each request
 *   before any framework has touched it (Express gives every request and response
 *   a prototype of its own, after which each property a middleware writes takes
 *   the engine's slow path);
 * - the middleware itself, for a request that listener did not see (the first
 *   request of a server it had not seen).
 *
 * Either way `#admit()` runs once per request; the middleware then only records
 * that the request reached it (`passed`, rule 6) and hands it on. A request the
 * listener refused (rule 7) carries no info, and the middleware, asking again,
 * gets the same refusal.
 */
export class Admission {
  readonly #core: PolicyCore;
  readonly #head: HeadTime;
  readonly #adopted = new WeakSet<EventEmitter>();
  /** The `'request'` listener, one per policy, shared by every server it adopts. */
  readonly onRequest: (req: IncomingMessage, res: ServerResponse) => void;
  /** The same for HTTP/2 servers: streams to http2.ts, HTTP/1.1 requests admitted in full. */
  readonly #onHttp2ServerRequest: (req: IncomingMessage, res: ServerResponse) => void;
  readonly middleware: (req: IncomingMessage, res: ServerResponse, next: Next) => void;
  /** `'connect'` and `'upgrade'`: the socket is the app's listener's now. */
  readonly #onLeftHttp = (req: IncomingMessage, socket: Socket): void => {
    const state = this.#core.tracker.get(socket);
    if (state !== undefined) this.#core.idle.leftHttp(socket, state, req.method === 'CONNECT' ? 'CONNECT' : 'upgraded');
  };

  constructor(core: PolicyCore) {
    this.#core = core;
    this.#head = new HeadTime(core);
    this.onRequest = (req, res) => {
      const socket = req.socket;
      if (req.httpVersionMajor !== 1 || !socket) return;
      this.#admit(req, res, socket);
    };
    this.#onHttp2ServerRequest = (req, res) => {
      if (req.httpVersionMajor === 2) {
        core.http2.onRequest(req as unknown as Http2ServerRequest, res as unknown as Http2ServerResponse);
        return;
      }
      // An HTTP/1.1 connection of an allowHTTP1 server: the whole HTTP/1.1 policy,
      // middleware or not (an HTTP/2 server's handler is seldom an Express app).
      const state = req.socket ? this.#admit(req, res, req.socket) : undefined;
      if (state !== undefined) markPassed(state, state.requests);
    };
    // Named: stack traces and Express's layer list show it.
    const connectionPolicyMiddleware = (req: IncomingMessage, res: ServerResponse, next: Next) => {
      // Admitted by the listener: only record that it reached the middleware (rule 6).
      // No other lookup on the request (Express has replaced its prototype by now,
      // and each lookup on it shows in bench/profile.ts).
      const info = connectionInfo(req);
      const state = info === undefined ? undefined : core.tracker.get(req.socket);
      if (state !== undefined && state.id === info!.id) {
        markPassed(state, info!.requests);
        next();
      } else {
        this.#pass(req, res, next);
      }
    };
    this.middleware = connectionPolicyMiddleware;
  }

  /**
   * Admits this server's requests from its `'request'` listener from now on, and
   * makes Node's idle timer agree with `idleTimeout` (server.ts), so that no
   * response needs a timer of ours. Once per server.
   */
  adopt(server: HttpServer | AnyHttp2Server): void {
    if (this.#adopted.has(server)) return;
    this.#adopted.add(server);
    // An HTTP/2 server that only listens for 'stream' must not get Node's
    // compatibility layer because of us: our 'request' listener joins the app's.
    if (isHttp2Server(server)) listenAlongside(server, 'request', this.#onHttp2ServerRequest);
    else server.prependListener('request', this.onRequest);
    // A socket handed to the app's 'connect' or 'upgrade' listener leaves HTTP:
    // no timer of ours stays on it (SPEC §1, attach()).
    listenAlongside(server, 'connect', this.#onLeftHttp);
    listenAlongside(server, 'upgrade', this.#onLeftHttp);
    // An HTTP/2 server's HTTP/1.1 connections (allowHTTP1) run on Node's HTTP/1
    // server code, which reads the same timer fields from the server.
    alignServerTimers(server as HttpServer, this.#core.options.idleTimeout);
  }

  #pass(req: IncomingMessage, res: ServerResponse, next: Next): void {
    const socket = req.socket;
    // Rule 6: a head already written is not ours to change; HTTP/2 has no
    // connection-specific header fields at all (RFC 9113 §8.2.2).
    if (res.headersSent || req.httpVersionMajor !== 1 || !socket) {
      if (debug.enabled) debug('left alone: %s', res.headersSent ? 'head already written' : 'not HTTP/1.x');
      next();
      return;
    }
    // Later requests from this server are admitted before the framework runs.
    const server = serverOf(socket) as HttpServer | undefined;
    if (server !== undefined) this.adopt(server);
    const state = this.#admit(req, res, socket);
    if (state === undefined) return;
    markPassed(state, state.requests);
    next();
  }

  /** Admits a request: counts it and prepares its head. `undefined`: its handler must not run. */
  #admit(req: IncomingMessage, res: ServerResponse, socket: Socket): ConnectionState | undefined {
    const { tracker, idle, options } = this.#core;
    const known = tracker.get(socket);
    const verdict = admission(socket.writableEnded, known !== undefined && closeDecided(known));
    if (!verdict.handle) {
      if (debug.enabled) debug('sock#%d %s', known?.id ?? 0, verdict.reason);
      if (verdict.destroy) socket.destroy();
      else known!.refusedBehind = true;
      return undefined;
    }
    const state = known ?? tracker.track(socket);
    idle.requestStarted(socket, state);
    tracker.countRequest(state);
    const requests = state.requests;
    // A plain object (typed readonly): freezing it on every request costs more than it protects.
    const info: ConnectionInfo = { id: state.id, requests, reused: requests > 1, openedAt: state.openedAt };
    setConnectionInfo(req, info);
    const http10 = req.httpVersionMinor === 0;
    const input = this.#arrivalInput(req, state, http10);
    let arrival = decideAtArrival(input);
    if ('askPolicy' in arrival) {
      // A function is asked now, before any handler: a close it answers must stop
      // the requests pipelined behind this one (rule 7), which arrive next.
      const asked = askPolicyFunction(options.policy as PolicyFunction, req, info);
      if (asked.answer === 'close') state.functionClose = { requests, source: asked.source };
      arrival = decideAtArrival({ ...input, policyAnswer: asked.answer, policySource: asked.source });
    }
    // A request pipelined behind this one is not handled (rule 7).
    if (closesWhatever(arrival, input)) state.closePending = true;
    if (!http10 && 'keepAlive' in arrival && arrival.keepAlive) {
      // Keep-alive unless the head says otherwise: Node writes `Connection:
      // keep-alive` and, from these fields, exactly our hint (node-internals.ts) —
      // and neither on a response that ends up closing. (What Node writes for
      // HTTP/1.0 is not relied on: those heads are written by head-time.ts.)
      const max = options.maxRequests;
      setKeepAliveHint(res, options.advertise ? options.advertisedTimeout : 0, Number.isFinite(max) ? max - requests : 0);
      this.#head.armed(res);
    } else {
      // advertise: false means no hint at all, also from Node on a response left to
      // it (rule 6), whose hint would be the aligned keepAliveTimeout's: the policy's value.
      if (!options.advertise) setKeepAliveHint(res, 0, 0);
      this.#head.plain(res);
    }
    idle.watch(res, state);
    return state;
  }

  #arrivalInput(req: IncomingMessage, state: ConnectionState, http10: boolean): ArrivalInput {
    const core = this.#core;
    return {
      requestConnection: req.headers.connection,
      http10,
      draining: core.draining,
      policyAnswer: core.fixedAnswer,
      policySource: core.policySource,
      requests: state.requests,
      maxRequests: core.options.maxRequests,
      age: state.ageLimit === Infinity ? 0 : Date.now() - state.openedAt,
      ageLimit: state.ageLimit,
    };
  }
}
