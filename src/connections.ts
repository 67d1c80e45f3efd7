import type { Socket } from 'node:net';
import { debug } from './debug.js';
import { nodeIdleTimerOf, serverOf } from './server.js';
import type { ResolvedOptions } from './options.js';
import { emptyClosedCounts, type CloseReason, type ConnectionStats } from './stats.js';

/** What a policy remembers about one connection, from first sight to `'close'`. */
export interface ConnectionState {
  /** Process-wide connection id, shared by every policy that sees the socket. */
  readonly id: number;
  readonly openedAt: number;
  /** This connection's own maxAge, drawn once with jitter. */
  readonly ageLimit: number;
  /** Requests seen on the connection so far. */
  requests: number;
  /** Requests whose response has not finished yet (more than one when pipelined). */
  inFlight: number;
  /** Our idle timer is armed on the socket (between a response and the next request). */
  idleArmed: boolean;
  /** Node will not disarm that timer itself when the next request starts. */
  disarmOnRequest: boolean;
  /** Why the server decided to close, once it has; `undefined` while kept alive. */
  closeReason: CloseReason | undefined;
  /** The idle timer fired (Node then destroys the socket, unless a server 'timeout' listener took over). */
  timedOut: boolean;
}

/** Ids are unique per process, so two policies (or two servers) never repeat one. */
let lastConnectionId = 0;
const connectionIds = new WeakMap<Socket, number>();

function connectionIdOf(socket: Socket): number {
  let id = connectionIds.get(socket);
  if (id === undefined) {
    id = ++lastConnectionId;
    connectionIds.set(socket, id);
  }
  return id;
}

/**
 * Every connection a policy has seen: state in a `WeakMap<Socket, …>` (so nothing
 * keeps a socket alive) and the open ones in a `Set` for `drain()` to walk; both
 * are cleared on the socket's `'close'`.
 */
export class ConnectionTracker {
  readonly #states = new WeakMap<Socket, ConnectionState>();
  readonly open = new Set<Socket>();
  readonly #options: ResolvedOptions;
  #accepted = 0;
  #requests = 0;
  #reusedRequests = 0;
  readonly #closed = emptyClosedCounts();
  /** Called after a tracked connection closed (`closed`) or left HTTP (drain() listens here). */
  onRelease: ((socket: Socket, closed: boolean) => void) | undefined;

  readonly #onSocketClose: (this: Socket, hadError: boolean) => void;
  readonly #onSocketTimeout: (this: Socket) => void;

  constructor(options: ResolvedOptions) {
    this.#options = options;
    const tracker = this;
    // One listener function per tracker, not per socket: `this` is the socket.
    this.#onSocketClose = function onSocketClose(this: Socket, hadError: boolean) {
      tracker.#release(this, hadError);
    };
    this.#onSocketTimeout = function onSocketTimeout(this: Socket) {
      tracker.#timedOut(this);
    };
  }

  get(socket: Socket): ConnectionState | undefined {
    return this.#states.get(socket);
  }

  /** Starts tracking a socket (at accept with `attach()`, else at its first request). */
  track(socket: Socket): ConnectionState {
    const options = this.#options;
    const now = Date.now();
    const ageLimit =
      options.maxAge === Infinity ? Infinity : options.maxAge * (1 - options.maxAgeJitter * Math.random());
    const state: ConnectionState = {
      id: connectionIdOf(socket),
      openedAt: now,
      ageLimit,
      requests: 0,
      inFlight: 0,
      idleArmed: false,
      disarmOnRequest: false,
      closeReason: undefined,
      timedOut: false,
    };
    this.#states.set(socket, state);
    this.open.add(socket);
    this.#accepted++;
    // Only ever turn Nagle off: a server that asked for it keeps it when noDelay is false.
    if (options.noDelay) socket.setNoDelay(true);
    if (options.tcpKeepAlive !== false) socket.setKeepAlive(true, options.tcpKeepAlive);
    if (debug.enabled) debug('sock#%d opened by %s:%d', state.id, socket.remoteAddress, socket.remotePort);
    socket.on('close', this.#onSocketClose);
    socket.on('timeout', this.#onSocketTimeout);
    if (socket.destroyed) {
      // Closed before we saw it (a client that vanished mid-request): 'close' may
      // already have been emitted, so release now.
      this.#release(socket, false);
    }
    return state;
  }

  /** A request arrived on the connection: count it and stop the idle timer. */
  requestStarted(socket: Socket, state: ConnectionState): void {
    if (state.idleArmed) {
      // Restore what Node would (`server.timeout`), where Node will not do it itself.
      if (state.disarmOnRequest) socket.setTimeout(serverOf(socket)?.timeout || 0);
      state.idleArmed = false;
      state.timedOut = false;
    }
    state.requests++;
    state.inFlight++;
    this.#requests++;
    if (state.requests > 1) this.#reusedRequests++;
  }

  /**
   * The connection has nothing in flight and is kept alive: from now on it may sit
   * idle for `idleTimeout`. `socket.setTimeout` is Node's own inactivity timer: any
   * byte of a next request resets it, and on expiry Node's HTTP server destroys the
   * idle socket (a FIN: nothing unread is left on it), unless a `'timeout'`
   * listener on the server has taken that job over.
   *
   * After a response Node has just armed the same timer with its own value, and
   * disarms it when the next request starts. Where that value already is
   * `idleTimeout` (an attached server) there is nothing to do on either side.
   */
  armIdle(socket: Socket, state: ConnectionState, afterResponse: boolean): void {
    const nodeTimer = afterResponse ? nodeIdleTimerOf(serverOf(socket)) : 0;
    if (nodeTimer !== this.#options.idleTimeout) socket.setTimeout(this.#options.idleTimeout);
    state.idleArmed = true;
    state.disarmOnRequest = nodeTimer === 0;
  }

  /** Counts the close under the first reason that applied. */
  markClosing(state: ConnectionState, reason: CloseReason): void {
    state.closeReason ??= reason;
  }

  /**
   * Whether Node's HTTP server still drives the socket. On an upgrade (WebSocket)
   * Node takes its own listeners off the socket — its `'timeout'` one among them —
   * and hands it to the `'upgrade'` listener; from then on it is not ours either.
   */
  isHttp(socket: Socket): boolean {
    return socket.listenerCount('timeout') > 1;
  }

  /** Stops tracking a socket that left HTTP (upgraded): not counted as closed, never closed by us. */
  forget(socket: Socket): void {
    const state = this.#untrack(socket);
    if (state === undefined) return;
    if (debug.enabled) debug('sock#%d left HTTP (upgraded): no longer tracked', state.id);
    this.onRelease?.(socket, false);
  }

  #untrack(socket: Socket): ConnectionState | undefined {
    const state = this.#states.get(socket);
    if (state === undefined) return undefined;
    this.#states.delete(socket);
    this.open.delete(socket);
    socket.removeListener('close', this.#onSocketClose);
    socket.removeListener('timeout', this.#onSocketTimeout);
    return state;
  }

  #timedOut(socket: Socket): void {
    const state = this.#states.get(socket);
    if (state === undefined || !state.idleArmed || state.inFlight > 0) return;
    if (!this.isHttp(socket)) {
      // Our idle timer outlived an upgrade: Node no longer destroys on it, and neither do we.
      socket.setTimeout(0);
      this.forget(socket);
      return;
    }
    state.timedOut = true;
    if (debug.enabled) {
      debug('sock#%d close: idle for %d ms (idleTimeout)', state.id, this.#options.idleTimeout);
    }
  }

  #release(socket: Socket, hadError: boolean): void {
    const state = this.#untrack(socket);
    if (state === undefined) return;
    const reason = state.closeReason ?? (state.timedOut ? 'idleTimeout' : hadError ? 'error' : 'client');
    this.#closed[reason]++;
    if (debug.enabled) {
      debug('sock#%d closed (%s) after %d request(s)', state.id, reason, state.requests);
    }
    this.onRelease?.(socket, true);
  }

  stats(): ConnectionStats {
    let idle = 0;
    for (const socket of this.open) {
      if (this.#states.get(socket)?.inFlight === 0) idle++;
    }
    return {
      open: this.open.size,
      idle,
      accepted: this.#accepted,
      requests: this.#requests,
      reusedRequests: this.#reusedRequests,
      closed: { ...this.#closed },
    };
  }
}
