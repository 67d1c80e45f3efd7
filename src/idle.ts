import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionState, ConnectionTracker } from './connections.js';
import { debug } from './debug.js';
import { responseInFlight, serverOf, setSocketTimeout } from './node-internals.js';
import { nodeIdleTimerOf } from './server.js';

/**
 * `idleTimeout`, enforced with `socket.setTimeout`, Node's own inactivity timer:
 * any byte of a next request resets it, and on expiry Node's HTTP server
 * destroys the idle socket (a FIN: nothing unread is left on it), unless a
 * `'timeout'` listener on the server has taken that job over.
 *
 * After a kept-alive response Node arms the same timer itself, with
 * `keepAliveTimeout + buffer`, and disarms it when the next request's head
 * arrives. Where the server's timers are aligned (server.ts) that is
 * `idleTimeout` already and nothing is done per response; elsewhere (`rearm`)
 * the policy re-arms it after each response. Before the first request, and
 * where `keepAliveTimeout` is 0, Node arms none, and the policy's timer must be
 * disarmed by the policy when a request starts.
 */
export class IdleTimers {
  readonly #idleTimeout: number;
  readonly #tracker: ConnectionTracker;
  /** `'close'` listener of a response on a `rearm` connection; `this` is the response. */
  readonly afterResponse: (this: ServerResponse) => void;

  constructor(idleTimeout: number, tracker: ConnectionTracker, isDraining: () => boolean) {
    this.#idleTimeout = idleTimeout;
    this.#tracker = tracker;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the listener's own `this` is the response
    const timers = this;
    this.afterResponse = function afterResponse(this: ServerResponse) {
      const socket = this.req.socket;
      // A drain ends the connection itself; a pipelined response still in flight arms on its own close.
      if (isDraining() || socket.destroyed || socket.writableEnded || responseInFlight(socket) !== undefined) return;
      const state = timers.#tracker.get(socket);
      if (state !== undefined && state.closeReason === undefined) timers.arm(socket, state, true);
    };
  }

  /** The connection has nothing in flight and is kept alive: it may sit idle for `idleTimeout`. */
  arm(socket: Socket, state: ConnectionState, afterResponse: boolean): void {
    setSocketTimeout(socket, this.#idleTimeout);
    state.idleArmed = !afterResponse || nodeIdleTimerOf(serverOf(socket)) === 0;
  }

  /** A request started: stop a timer of ours that Node will not stop itself. */
  requestStarted(socket: Socket, state: ConnectionState): void {
    if (!state.idleArmed) return;
    // Restore what Node would (`server.timeout`): Node disarms only its own timer.
    setSocketTimeout(socket, serverOf(socket)?.timeout || 0);
    state.idleArmed = false;
    state.timedOut = false;
  }

  /**
   * Accept: a connection that never sends a request is idle from the start. Not
   * where the server has a socket timeout of its own (`server.setTimeout()`, armed
   * by Node at accept): that one keeps its meaning before the first request.
   */
  accepted(socket: Socket, state: ConnectionState): void {
    if (socket.destroyed || (serverOf(socket)?.timeout ?? 0) > 0) return;
    this.arm(socket, state, false);
  }

  /**
   * The socket left HTTP (a CONNECT tunnel or an upgrade, handed to the app's
   * listener): no timer of the policy's stays on it; Node's `server.timeout` is
   * what it would have had.
   */
  leftHttp(socket: Socket, state: ConnectionState, how: 'upgraded' | 'CONNECT'): void {
    if (debug.enabled) debug('sock#%d left HTTP (%s): idle timer off', state.id, how);
    if (!state.idleArmed) return;
    setSocketTimeout(socket, serverOf(socket)?.timeout || 0);
    state.idleArmed = false;
  }

  /** After this response, where Node's own timer is not `idleTimeout`. */
  watch(res: ServerResponse, state: ConnectionState): void {
    if (state.rearm) res.on('close', this.afterResponse);
  }
}
