import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionTracker } from './connections.js';
import { debug } from './debug.js';
import type { Transport } from './http1.js';
import { stopAccepting } from './node-internals.js';
import type { DrainResult } from './stats.js';
import { checkMilliseconds, checkOptionsObject, given } from './validate.js';

export interface DrainOptions {
  /**
   * Milliseconds to wait for connections to close by themselves before destroying
   * what is left. `Infinity` waits for ever.
   * @default 10000
   */
  timeout?: number | undefined;
  /**
   * The announce phase: from the call, `policy.draining` is true, readiness answers
   * 503 and every response closes its connection, but attached servers keep
   * accepting and serving for this many milliseconds (while load balancers and
   * Kubernetes take the instance out of rotation); only then does the drain run.
   * `timeout` counts from the end of the delay.
   * @default 0
   */
  delay?: number | undefined;
  /**
   * Milliseconds to keep idle keep-alive connections open after the drain starts:
   * a request arriving on one meanwhile is answered with `Connection: close`, so a
   * proxy's busy connection pool drains without ever sending on a connection the
   * server is closing. 0 ends idle connections at once.
   * @default 0
   */
  idleGrace?: number | undefined;
}

export const DRAIN_DEFAULTS = Object.freeze({ timeout: 10_000, delay: 0, idleGrace: 0 });
const NAMES = Object.keys(DRAIN_DEFAULTS);

export type ResolvedDrainOptions = { readonly [K in keyof typeof DRAIN_DEFAULTS]: number };

/** Integers in ms from 0 to 2147483647 (`timeout` also `Infinity`), checked at the call (README, "Graceful shutdown"). */
export function resolveDrainOptions(input?: DrainOptions): ResolvedDrainOptions {
  const where = 'drain()';
  const options = checkOptionsObject(where, input, NAMES);
  return Object.freeze({
    timeout: checkMilliseconds(where, 'timeout', given(options, 'timeout', DRAIN_DEFAULTS.timeout), { min: 0, infinity: true }),
    delay: checkMilliseconds(where, 'delay', given(options, 'delay', DRAIN_DEFAULTS.delay), { min: 0 }),
    idleGrace: checkMilliseconds(where, 'idleGrace', given(options, 'idleGrace', DRAIN_DEFAULTS.idleGrace), { min: 0 }),
  });
}

/**
 * Graceful shutdown, once the policy says every response closes (`draining`).
 * After `delay` (the announce phase, during which attached servers keep
 * accepting): stop accepting, end idle connections, let busy ones close after
 * their last response, destroy the rest at the deadline. Resolves once no
 * tracked connection is left.
 */
export function runDrain(
  tracker: ConnectionTracker,
  servers: Iterable<HttpServer>,
  transport: Transport<Socket>,
  { timeout, delay, idleGrace }: ResolvedDrainOptions,
): Promise<DrainResult> {
  return new Promise((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    const forced = new WeakSet<Socket>();
    const result: DrainResult = { graceful: 0, destroyed: 0 };
    /** Past the announce phase: the drain may end once nothing is left. */
    let running = false;
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      for (const timer of timers) clearTimeout(timer);
      if (debug.enabled) debug('drain: done, %d graceful, %d destroyed', result.graceful, result.destroyed);
      resolve(result);
    };
    // Connections that close during the announce phase (their responses already
    // say `Connection: close`) count as graceful too.
    tracker.onRelease((socket, closed) => {
      if (forced.has(socket)) result.destroyed++;
      else if (closed) result.graceful++;
      if (running && tracker.openCount === 0) done();
    });
    const closing = (socket: Socket) => {
      const state = tracker.get(socket);
      if (state !== undefined) tracker.markClosing(state, 'drain');
    };
    const closeIdle = () => {
      for (const socket of tracker.openConnections()) {
        if (transport.busy(socket)) continue;
        // An upgraded connection (WebSocket) belongs to its 'upgrade' listener.
        if (transport.upgraded(socket)) tracker.forget(socket);
        else {
          closing(socket);
          transport.destroy(socket);
        }
      }
      // Node's own close: stops accepting, sweeps its idle connections, clears its timers.
      for (const server of servers) server.close();
    };
    const destroyAll = () => {
      for (const socket of tracker.openConnections()) {
        closing(socket);
        forced.add(socket);
        transport.destroy(socket);
      }
    };
    const run = () => {
      running = true;
      if (debug.enabled) debug('drain: %d connection(s) open, timeout %d ms', tracker.openCount, timeout);
      // A response whose head already went out as keep-alive: its connection is
      // ended after the last response in flight on it.
      for (const socket of tracker.openConnections()) {
        if (transport.headSent(socket)) transport.endAfterInFlight(socket, () => closing(socket));
      }
      // Idle connections are counted as 'drain' before Node's own close() reaches
      // them. An idle socket has nothing unread, so destroying it sends a FIN; a
      // request the client sends at this very moment is refused with a reset before
      // any handler sees it, which a client may safely retry, but a proxy will not
      // retry a POST: hence `idleGrace`.
      if (idleGrace > 0) {
        // Stop accepting now, without Node's immediate idle sweep.
        for (const server of servers) stopAccepting(server);
        timers.push(unref(setTimeout(closeIdle, idleGrace)));
      } else {
        closeIdle();
      }
      // A drain must not keep the process alive by itself; open sockets do that.
      if (timeout !== Infinity && !finished) timers.push(unref(setTimeout(destroyAll, timeout)));
      if (tracker.openCount === 0) done();
    };
    if (delay > 0) timers.push(setTimeout(run, delay));
    else run();
  });
}

function unref(timer: NodeJS.Timeout): NodeJS.Timeout {
  timer.unref();
  return timer;
}
