import type { ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import { closeChannel, type CloseMessage } from './channels.js';
import { connectionIdOf } from './connection-id.js';
import { debug } from './debug.js';
import { isHttpSocket, openStreamCount, responseInFlight, serverOf, setSocketTimeout } from './node-internals.js';
import type { ResolvedOptions } from './options.js';
import { nodeIdleTimerOf } from './server.js';
import { emptyClosedCounts, type CloseReason, type ConnectionStats } from './stats.js';

/**
 * A connection's life, once for the whole package:
 *
 * 1. **accept** — an attached server's `'connection'` (`'secureConnection'` for
 *    TLS): `track()`, TCP options applied, the idle timer armed (idle.ts);
 *    without `attach()`, the first request tracks it.
 * 2. **request** — admission.ts: `requestStarted()` counts it and stops our idle
 *    timer; decide.ts's `admission()` says whether its handler may run, and
 *    `decideAtArrival()` what the head will most likely say (a policy function
 *    is asked here); a close already certain is remembered (`closePending`), so
 *    that a pipelined request behind it is not handled (rule 7).
 * 3. **head** — head-time.ts: `decideAtHead()` gives the decision the head
 *    carries; a close is remembered here (`markClosing()`), so that a pipelined
 *    request behind it is not handled (rule 7).
 * 4. **response end** — Node ends a closing connection after the response
 *    (RFC 9112 §9.6); a kept-alive one becomes idle and its idle timer runs.
 * 5. **idle** — the timer fires (`'timeout'`): Node's HTTP server destroys the
 *    socket (counted `idleTimeout`); a drain ends idle connections itself.
 * 6. **close** — the socket's `'close'`: counted once under the first reason that
 *    applied, published on the close channel, state dropped.
 *
 * A connection that leaves HTTP (an `'upgrade'` listener took it: a WebSocket)
 * stays tracked until it closes: open, never idle, never timed out by us;
 * counted `drain` if it closes after its drain signal or at a drain's deadline,
 * else `client` or `error`.
 */

/**
 * Rule 6: request `n` reached the middleware. Requests reach it in order but for a
 * request held before it (an async middleware registered first) or answered there
 * (a route before it): those are remembered until they pass, or their head is written.
 */
export function markPassed(state: ConnectionState, n: number): void {
  if (n === state.passed + 1) {
    state.passed = n;
    return;
  }
  if (n <= state.passed) {
    state.notPassed?.delete(n);
    return;
  }
  const notPassed = (state.notPassed ??= new Set());
  for (let k = state.passed + 1; k < n; k++) notPassed.add(k);
  state.passed = n;
}

/** Rule 6: whether request `n` has reached the middleware. */
export function hasPassed(state: ConnectionState, n: number): boolean {
  return n <= state.passed && state.notPassed?.has(n) !== true;
}

/** Rule 7: a close is decided for the connection, so no request pipelined from here on is handled. */
export function closeDecided(state: ConnectionState): boolean {
  return state.closeReason !== undefined || state.closePending;
}

/**
 * A connection: an HTTP/1.x socket, or an HTTP/2 session (RFC 9113: one TCP or
 * TLS connection, many streams), whose streams are its requests.
 */
export type Connection = Socket | ServerHttp2Session;

/** What an HTTP/2 session has besides what every connection has (http2.ts). */
export interface SessionState {
  /** The highest stream id the server has processed (a GOAWAY's last-stream-id). */
  lastStreamId: number;
  /** A GOAWAY has gone out: no new stream is processed (Node 20–26). */
  goawaySent: boolean;
  /** The session emitted `'error'` before closing. */
  errored: boolean;
  /** The TCP or TLS socket under the session (not `session.socket`, a proxy that refuses most calls). */
  readonly socket: Socket | undefined;
  /** The idle check (an interval, http2.ts `#watchIdle`) and the maxAge timer. */
  idleTimer: NodeJS.Timeout | undefined;
  ageTimer: NodeJS.Timeout | undefined;
}

/** What a policy remembers about one connection, from first sight to `'close'`. */
export interface ConnectionState {
  /** Process-wide connection id, shared by every policy that sees the socket. */
  readonly id: number;
  readonly openedAt: number;
  /** This connection's own maxAge, drawn once with jitter. */
  readonly ageLimit: number;
  /**
   * Node's own idle timer after a response is not `idleTimeout` (the server's
   * timers were changed after they were aligned, or `idleTimeout` is below Node's
   * 1 s buffer): the policy arms its own after each response.
   */
  readonly rearm: boolean;
  /**
   * The highest ordinal of a request that reached the middleware; every one below
   * it did too, but those in `notPassed` (rule 6: a response to a request that did
   * not is left to Node). See `markPassed()`.
   */
  passed: number;
  /**
   * Ordinals below `passed` that have not reached the middleware (yet): a request
   * pipelined behind reached it first. `undefined` until that happens (rare).
   */
  notPassed: Set<number> | undefined;
  /** Requests seen on the connection so far. */
  requests: number;
  /** Our idle timer is armed and Node will not disarm it when the next request starts. */
  idleArmed: boolean;
  /** Why the server decided to close, once it has; `undefined` while kept alive. */
  closeReason: CloseReason | undefined;
  /** A request's response will close, known since it arrived (decide.ts `closesWhatever()`); its reason comes at head time. */
  closePending: boolean;
  /** A request pipelined behind a `closePending` one was refused (rule 7): the connection must end (decide.ts rule 6). */
  refusedBehind: boolean;
  /**
   * The request a policy function answered `'close'` for (asked at arrival), with
   * the reason's source; the requests before it were answered `'keep-alive'`, and
   * none after it is handled (rule 7).
   */
  functionClose: { readonly requests: number; readonly source: string } | undefined;
  /** The idle timer fired (Node then destroys the socket, unless a server 'timeout' listener took over). */
  timedOut: boolean;
  /** Set for an HTTP/2 session. */
  readonly session: SessionState | undefined;
}

/** Told of every tracked connection that closes. */
export type ReleaseListener = (connection: Connection) => void;

/**
 * The bookkeeping of every connection a policy has seen: state in a
 * `WeakMap<Socket, …>` (so nothing keeps a socket alive) and the open ones in a
 * `Set` for `drain()` and `stats()` to walk; both are cleared on `'close'`.
 */
export class ConnectionTracker {
  readonly #states = new WeakMap<Connection, ConnectionState>();
  readonly #open = new Set<Connection>();
  readonly #options: ResolvedOptions;
  #accepted = 0;
  #requests = 0;
  #reusedRequests = 0;
  readonly #closed = emptyClosedCounts();
  #onRelease: ReleaseListener | undefined;

  readonly #onSocketClose: (this: Socket, hadError: boolean) => void;
  readonly #onSocketTimeout: (this: Socket) => void;

  constructor(options: ResolvedOptions) {
    this.#options = options;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the listeners' own `this` is the socket
    const tracker = this;
    // One listener function per tracker, not per socket: `this` is the socket.
    this.#onSocketClose = function onSocketClose(this: Socket, hadError: boolean) {
      tracker.#countClose(this, hadError);
    };
    this.#onSocketTimeout = function onSocketTimeout(this: Socket) {
      tracker.#timedOut(this);
    };
  }

  get(connection: Connection): ConnectionState | undefined {
    return this.#states.get(connection);
  }

  /** The open connections, for the drain to walk (a copy: closing one changes the set). */
  openConnections(): Connection[] {
    return [...this.#open];
  }

  get openCount(): number {
    return this.#open.size;
  }

  /** The drain's: told of each connection that goes from now on. */
  onRelease(listener: ReleaseListener): void {
    this.#onRelease = listener;
  }

  /** Starts tracking a socket (at accept with `attach()`, else at its first request). */
  track(socket: Socket): ConnectionState {
    const state = this.#newState(socket, nodeIdleTimerOf(serverOf(socket)) !== this.#options.idleTimeout, undefined);
    this.#applyTcpOptions(socket);
    if (debug.enabled) debug('sock#%d opened by %s:%d', state.id, socket.remoteAddress, socket.remotePort);
    socket.on('close', this.#onSocketClose);
    socket.on('timeout', this.#onSocketTimeout);
    // Closed before we saw it (a client that vanished mid-request): 'close' may
    // already have been emitted, so count it now.
    if (socket.destroyed) this.#countClose(socket, false);
    return state;
  }

  /**
   * Starts tracking an HTTP/2 session (at its `'session'` event); http2.ts runs
   * its streams and timers. `socket` is the TCP or TLS socket it runs on.
   */
  trackSession(session: ServerHttp2Session, socket: Socket | undefined): ConnectionState {
    const sessionState: SessionState = {
      socket,
      lastStreamId: 0,
      goawaySent: false,
      errored: false,
      idleTimer: undefined,
      ageTimer: undefined,
    };
    const state = this.#newState(session, false, sessionState);
    if (socket !== undefined) this.#applyTcpOptions(socket);
    if (debug.enabled) debug('sock#%d HTTP/2 session opened by %s:%d', state.id, socket?.remoteAddress, socket?.remotePort);
    session.once('close', () => this.#countClose(session, sessionState.errored));
    if (session.destroyed) this.#countClose(session, false);
    return state;
  }

  #newState(connection: Connection, rearm: boolean, session: SessionState | undefined): ConnectionState {
    const options = this.#options;
    const ageLimit = options.maxAge === Infinity ? Infinity : options.maxAge * (1 - options.maxAgeJitter * Math.random());
    const state: ConnectionState = {
      id: connectionIdOf(connection),
      openedAt: Date.now(),
      ageLimit,
      rearm,
      passed: 0,
      notPassed: undefined,
      requests: 0,
      idleArmed: false,
      closeReason: undefined,
      closePending: false,
      refusedBehind: false,
      functionClose: undefined,
      timedOut: false,
      session,
    };
    this.#states.set(connection, state);
    this.#open.add(connection);
    this.#accepted++;
    return state;
  }

  #applyTcpOptions(socket: Socket): void {
    const options = this.#options;
    // A server may be fed any Duplex (`server.emit('connection', stream)`, Node's
    // docs): TCP options only where the stream has them, as Node's own server checks.
    // Only ever turn Nagle off: a server that asked for it keeps it when noDelay is false.
    if (options.noDelay && typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
    if (options.tcpKeepAlive !== false && typeof socket.setKeepAlive === 'function') {
      socket.setKeepAlive(true, options.tcpKeepAlive);
    }
  }

  /** A request arrived: count it (the idle timer is idle.ts's). */
  countRequest(state: ConnectionState): void {
    this.#requests++;
    if (++state.requests > 1) this.#reusedRequests++;
  }

  /** Remembers the first reason the server decided to close for. */
  markClosing(state: ConnectionState, reason: CloseReason): void {
    state.closeReason ??= reason;
  }

  stats(): ConnectionStats {
    let idle = 0;
    for (const connection of this.#open) {
      if (this.#states.get(connection)?.session !== undefined) {
        if (openStreamCount(connection as ServerHttp2Session) === 0) idle++;
        continue;
      }
      const socket = connection as Socket;
      // An upgraded connection has no response in flight, and is not idle either.
      if (responseInFlight(socket) === undefined && isHttpSocket(socket)) idle++;
    }
    return {
      open: this.#open.size,
      idle,
      accepted: this.#accepted,
      requests: this.#requests,
      reusedRequests: this.#reusedRequests,
      closed: { ...this.#closed },
    };
  }

  #untrack(connection: Connection): ConnectionState | undefined {
    const state = this.#states.get(connection);
    if (state === undefined) return undefined;
    this.#states.delete(connection);
    this.#open.delete(connection);
    if (state.session === undefined) {
      connection.removeListener('close', this.#onSocketClose);
      connection.removeListener('timeout', this.#onSocketTimeout);
    }
    return state;
  }

  /** The idle timer fired: Node's HTTP server destroys the socket, and it is counted as `idleTimeout`. */
  #timedOut(socket: Socket): void {
    const state = this.#states.get(socket);
    if (state === undefined || responseInFlight(socket) !== undefined) return;
    if (!isHttpSocket(socket)) {
      // Our idle timer outlived an upgrade: Node no longer destroys on it, and
      // neither do we; the connection is its 'upgrade' listener's now.
      setSocketTimeout(socket, 0);
      if (debug.enabled) debug('sock#%d left HTTP (upgraded): idle timer off', state.id);
      return;
    }
    state.timedOut = true;
    if (debug.enabled) debug('sock#%d close: idle for %d ms (idleTimeout)', state.id, this.#options.idleTimeout);
  }

  /**
   * A socket that closed with no reason of ours and no error: the client's, unless
   * the server ended it for its own shutdown — `server.close()` destroys the idle
   * connections itself (`closeIdleConnections()`, 19+; 20–26) without a word to
   * the policy. Such a socket never saw the client's FIN, and its server no longer
   * listens: counted with the drain, the other shutdown (docs/observability.md).
   */
  #clientOrShutdown(connection: Connection, state: ConnectionState): CloseReason {
    if (state.session !== undefined) return 'client';
    const socket = connection as Socket;
    return !socket.readableEnded && serverOf(socket)?.listening === false ? 'drain' : 'client';
  }

  /** `'close'`: counted once, under the first reason that applied. */
  #countClose(connection: Connection, hadError: boolean): void {
    const state = this.#untrack(connection);
    if (state === undefined) return;
    const reason =
      state.closeReason ?? (state.timedOut ? 'idleTimeout' : hadError ? 'error' : this.#clientOrShutdown(connection, state));
    this.#closed[reason]++;
    if (debug.enabled) debug('sock#%d closed (%s) after %d request(s)', state.id, reason, state.requests);
    if (closeChannel.hasSubscribers) {
      const message: CloseMessage = {
        socket:
          state.session === undefined
            ? (connection as Socket)
            : (state.session.socket ?? (connection as ServerHttp2Session).socket),
        id: state.id,
        reason,
        requests: state.requests,
        durationMs: Date.now() - state.openedAt,
      };
      closeChannel.publish(message);
    }
    this.#onRelease?.(connection);
  }
}
