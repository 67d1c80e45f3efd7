import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { closeChannel } from './channels.js';
import { debug } from './debug.js';
import type { ResolvedDrainOptions } from './drain.js';
import { isHttpSocket, responseInFlight, serverOf, stopAccepting } from './node-internals.js';
import type { ResolvedOptions } from './options.js';
import { nodeIdleTimerOf } from './server.js';
import { emptyClosedCounts, type CloseReason, type ConnectionStats, type DrainResult } from './stats.js';

/** What a policy remembers about one connection, from first sight to `'close'`. */
export interface ConnectionState {
  /** Process-wide connection id, shared by every policy that sees the socket. */
  readonly id: number;
  readonly openedAt: number;
  /** This connection's own maxAge, drawn once with jitter. */
  readonly ageLimit: number;
  /**
   * Node's own idle timer after a response is not `idleTimeout` (the server is not
   * attached, or its timers were changed): the policy arms its own after each one.
   */
  readonly rearm: boolean;
  /** Its requests are admitted by the server's `'request'` listener, not by the middleware. */
  readonly byListener: boolean;
  /**
   * Ordinal of the last request that reached the middleware: a response to a later
   * one (written by a route before the middleware) is left to Node (rule 6).
   */
  passed: number;
  /** Requests seen on the connection so far. */
  requests: number;
  /** Our idle timer is armed and Node will not disarm it when the next request starts. */
  idleArmed: boolean;
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
 * Ends a connection whose last response went out as keep-alive, the way Node ends
 * one after a `Connection: close` response: a FIN once everything written has been
 * flushed (RFC 9112 §9.6), then the handle is released.
 */
function endSocket(socket: Socket): void {
  if (socket.destroyed || socket.writableEnded) return;
  socket.once('finish', () => socket.destroy());
  socket.end();
}

interface Drain {
  graceful: number;
  destroyed: number;
  forced: WeakSet<Socket>;
  /** Past the announce phase (`delay`): the drain may end once nothing is left. */
  running: boolean;
  done: () => void;
}

/**
 * Every connection a policy has seen: state in a `WeakMap<Socket, …>` (so nothing
 * keeps a socket alive) and the open ones in a `Set` for `drain()` and `stats()`
 * to walk; both are cleared on the socket's `'close'`.
 */
export class ConnectionTracker {
  readonly #states = new WeakMap<Socket, ConnectionState>();
  readonly #open = new Set<Socket>();
  readonly #options: ResolvedOptions;
  #accepted = 0;
  #requests = 0;
  #reusedRequests = 0;
  readonly #closed = emptyClosedCounts();
  #drain: Drain | undefined;

  readonly #onSocketClose: (this: Socket, hadError: boolean) => void;
  readonly #onSocketTimeout: (this: Socket) => void;

  constructor(options: ResolvedOptions) {
    this.#options = options;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the listeners' own `this` is the socket
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
  track(socket: Socket, byListener = false): ConnectionState {
    const options = this.#options;
    const ageLimit = options.maxAge === Infinity ? Infinity : options.maxAge * (1 - options.maxAgeJitter * Math.random());
    const state: ConnectionState = {
      id: connectionIdOf(socket),
      openedAt: Date.now(),
      ageLimit,
      rearm: nodeIdleTimerOf(serverOf(socket)) !== options.idleTimeout,
      byListener,
      passed: 0,
      requests: 0,
      idleArmed: false,
      closeReason: undefined,
      timedOut: false,
    };
    this.#states.set(socket, state);
    this.#open.add(socket);
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

  /** A request arrived on the connection: count it and stop our idle timer. */
  requestStarted(socket: Socket, state: ConnectionState): void {
    if (state.idleArmed) {
      // Restore what Node would (`server.timeout`): Node disarms only its own timer.
      socket.setTimeout(serverOf(socket)?.timeout || 0);
      state.idleArmed = false;
      state.timedOut = false;
    }
    this.#requests++;
    if (++state.requests > 1) this.#reusedRequests++;
  }

  /**
   * The connection has nothing in flight and is kept alive: from now on it may sit
   * idle for `idleTimeout`. `socket.setTimeout` is Node's own inactivity timer: any
   * byte of a next request resets it, and on expiry Node's HTTP server destroys the
   * idle socket (a FIN: nothing unread is left on it), unless a `'timeout'`
   * listener on the server has taken that job over.
   *
   * After a response Node has just armed the same timer with its own value (and
   * disarms it itself when the next request's head arrives); before the first
   * request, and where `keepAliveTimeout` is 0, Node arms none.
   */
  armIdle(socket: Socket, state: ConnectionState, afterResponse: boolean): void {
    socket.setTimeout(this.#options.idleTimeout);
    state.idleArmed = !afterResponse || nodeIdleTimerOf(serverOf(socket)) === 0;
  }

  /** Counts the close under the first reason that applied. */
  markClosing(state: ConnectionState, reason: CloseReason): void {
    state.closeReason ??= reason;
  }

  get draining(): boolean {
    return this.#drain !== undefined;
  }

  /** Stops tracking a socket that left HTTP (upgraded): not counted as closed, never closed by us. */
  #forget(socket: Socket): void {
    const state = this.#untrack(socket);
    if (state === undefined) return;
    if (debug.enabled) debug('sock#%d left HTTP (upgraded): no longer tracked', state.id);
    this.#released(socket, false);
  }

  #untrack(socket: Socket): ConnectionState | undefined {
    const state = this.#states.get(socket);
    if (state === undefined) return undefined;
    this.#states.delete(socket);
    this.#open.delete(socket);
    socket.removeListener('close', this.#onSocketClose);
    socket.removeListener('timeout', this.#onSocketTimeout);
    return state;
  }

  #timedOut(socket: Socket): void {
    const state = this.#states.get(socket);
    if (state === undefined || responseInFlight(socket) !== undefined) return;
    if (!isHttpSocket(socket)) {
      // Our idle timer outlived an upgrade: Node no longer destroys on it, and neither do we.
      socket.setTimeout(0);
      this.#forget(socket);
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
    if (closeChannel.hasSubscribers) {
      closeChannel.publish({
        socket,
        id: state.id,
        reason,
        requests: state.requests,
        durationMs: Date.now() - state.openedAt,
      });
    }
    this.#released(socket, true);
  }

  /** A tracked connection closed (`closed`) or left HTTP: the drain counts it. */
  #released(socket: Socket, closed: boolean): void {
    const drain = this.#drain;
    if (drain === undefined) return;
    if (drain.forced.has(socket)) drain.destroyed++;
    else if (closed) drain.graceful++;
    if (drain.running && this.#open.size === 0) drain.done();
  }

  stats(): ConnectionStats {
    let idle = 0;
    for (const socket of this.#open) {
      if (responseInFlight(socket) === undefined) idle++;
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

  /**
   * Graceful shutdown (every response head written from now on says `Connection:
   * close`, see the middleware). After `delay` (the announce phase, during which
   * attached servers keep accepting): stop accepting, end idle connections, let
   * busy ones close after their last response, destroy the rest at the deadline.
   */
  drain(servers: Iterable<HttpServer>, { timeout, delay, idleGrace }: ResolvedDrainOptions): Promise<DrainResult> {
    return new Promise((resolve) => {
      const timers: NodeJS.Timeout[] = [];
      let finished = false;
      const drain: Drain = {
        graceful: 0,
        destroyed: 0,
        forced: new WeakSet(),
        running: false,
        done: () => {
          if (finished) return;
          finished = true;
          for (const timer of timers) clearTimeout(timer);
          if (debug.enabled) debug('drain: done, %d graceful, %d destroyed', drain.graceful, drain.destroyed);
          resolve({ graceful: drain.graceful, destroyed: drain.destroyed });
        },
      };
      // Connections that close during the announce phase (their responses already
      // say `Connection: close`) count as graceful too.
      this.#drain = drain;
      const run = () => {
        drain.running = true;
        if (debug.enabled) debug('drain: %d connection(s) open, timeout %d ms', this.#open.size, timeout);
        this.#endAfterResponses();
        if (idleGrace > 0) {
          // Stop accepting now, without Node's immediate idle sweep.
          for (const server of servers) stopAccepting(server);
          const grace = setTimeout(() => this.#closeIdle(servers), idleGrace);
          grace.unref();
          timers.push(grace);
        } else {
          this.#closeIdle(servers);
        }
        if (timeout !== Infinity && !finished) {
          const deadline = setTimeout(() => this.#destroyAll(drain), timeout);
          // A drain must not keep the process alive by itself; open sockets do that.
          deadline.unref();
          timers.push(deadline);
        }
        if (this.#open.size === 0) drain.done();
      };
      if (delay > 0) timers.push(setTimeout(run, delay));
      else run();
    });
  }

  /**
   * A response whose head already went out as keep-alive: its connection is ended
   * after the last response in flight on it (a later pipelined one, if any, has
   * been told to close, and Node ends the connection after it).
   */
  #endAfterResponses(): void {
    for (const socket of this.#open) {
      const res = responseInFlight(socket);
      if (res !== undefined && res.headersSent) this.#endWhenIdle(socket, res);
    }
  }

  /**
   * Idle connections are counted as 'drain' before Node's own close() reaches them.
   * An idle socket has nothing unread, so destroying it sends a FIN; a request the
   * client sends at this very moment is refused with a reset before any handler
   * sees it, which a client may safely retry — but a proxy will not retry a POST,
   * hence `idleGrace`.
   */
  #closeIdle(servers: Iterable<HttpServer>): void {
    for (const socket of [...this.#open]) {
      const state = this.#states.get(socket);
      if (state === undefined || responseInFlight(socket) !== undefined) continue;
      if (!isHttpSocket(socket)) {
        // An upgraded connection (WebSocket) belongs to its 'upgrade' listener.
        this.#forget(socket);
        continue;
      }
      this.markClosing(state, 'drain');
      socket.destroy();
    }
    // Node's own close: stops accepting, sweeps its idle connections, clears its timers.
    for (const server of servers) server.close();
  }

  /** The deadline: whatever is left is destroyed. */
  #destroyAll(drain: Drain): void {
    for (const socket of [...this.#open]) {
      const state = this.#states.get(socket);
      if (state !== undefined) this.markClosing(state, 'drain');
      drain.forced.add(socket);
      socket.destroy();
    }
  }

  /** After `res` (and whatever Node queued behind it) has been written, end the connection. */
  #endWhenIdle(socket: Socket, res: NonNullable<ReturnType<typeof responseInFlight>>): void {
    res.once('finish', () => {
      // Node assigns the next queued response, or ends a closing connection, in its
      // own 'finish' listener, which ran before this one.
      const next = responseInFlight(socket);
      if (next !== undefined) {
        if (next.headersSent) this.#endWhenIdle(socket, next);
        return;
      }
      const state = this.#states.get(socket);
      if (state === undefined) return;
      this.markClosing(state, 'drain');
      endSocket(socket);
    });
  }
}
