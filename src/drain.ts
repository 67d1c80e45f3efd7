import type { Server as HttpServer } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import type { ConnectionTracker } from './connections.js';
import { debug } from './debug.js';
import { optionError, unknownOptionError } from './errors.js';
import type { DrainResult } from './stats.js';

export interface DrainOptions {
  /**
   * Milliseconds to wait for connections to close by themselves before destroying
   * what is left. `Infinity` waits for ever.
   * @default 10000
   */
  timeout?: number | undefined;
  /**
   * Milliseconds to keep idle keep-alive connections open after the drain starts:
   * a request arriving on one meanwhile is answered with `Connection: close`, so a
   * proxy's busy connection pool drains without ever sending on a connection the
   * server is closing. 0 ends idle connections at once.
   * @default 0
   */
  idleGrace?: number | undefined;
}

export const DRAIN_DEFAULTS = Object.freeze({ timeout: 10_000, idleGrace: 0 });

export function resolveDrainOptions(options: DrainOptions = {}): { timeout: number; idleGrace: number } {
  const where = 'drain()';
  if (options === null || typeof options !== 'object') {
    throw optionError(where, 'ERR_INVALID_ARG_TYPE', 'options', options, 'an object or undefined');
  }
  const names = Object.keys(DRAIN_DEFAULTS);
  for (const name of Object.keys(options)) {
    if (!names.includes(name)) throw unknownOptionError(where, name, names);
  }
  const ms = (name: 'timeout' | 'idleGrace', allowed: string, infinity: boolean): number => {
    const value = options[name] ?? DRAIN_DEFAULTS[name];
    if (typeof value !== 'number') throw optionError(where, 'ERR_INVALID_ARG_TYPE', name, value, allowed);
    if (Number.isNaN(value) || value < 0 || (!infinity && !Number.isFinite(value))) {
      throw optionError(where, 'ERR_OUT_OF_RANGE', name, value, allowed);
    }
    return value;
  };
  return {
    timeout: ms('timeout', 'a number of milliseconds ≥ 0, or Infinity', true),
    idleGrace: ms('idleGrace', 'a finite number of milliseconds ≥ 0', false),
  };
}

/**
 * Ends a connection whose last response went out as keep-alive, the way Node ends
 * one after a `Connection: close` response: a FIN once everything written has been
 * flushed, then the handle is released.
 */
export function endSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.writableEnded) return;
  socket.once('finish', () => socket.destroy());
  socket.end();
}

/**
 * Graceful shutdown (the caller has already switched every response not yet sent
 * to `Connection: close`): stop accepting, end idle connections now, let busy ones
 * close after their response, destroy the rest at the deadline.
 */
export function runDrain(
  tracker: ConnectionTracker,
  servers: Iterable<HttpServer>,
  { timeout, idleGrace }: { timeout: number; idleGrace: number },
): Promise<DrainResult> {
  return new Promise((resolve) => {
    let graceful = 0;
    let destroyed = 0;
    const forced = new WeakSet<Socket>();
    let deadline: NodeJS.Timeout | undefined;
    let grace: NodeJS.Timeout | undefined;

    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      if (deadline !== undefined) clearTimeout(deadline);
      if (grace !== undefined) clearTimeout(grace);
      tracker.onRelease = undefined;
      if (debug.enabled) debug('drain: done, %d graceful, %d destroyed', graceful, destroyed);
      resolve({ graceful, destroyed });
    };
    tracker.onRelease = (socket, closed) => {
      if (forced.has(socket)) destroyed++;
      else if (closed) graceful++;
      if (tracker.open.size === 0) done();
    };

    if (debug.enabled) debug('drain: %d connection(s) open, timeout %d ms', tracker.open.size, timeout);
    // Idle connections are counted as 'drain' before Node's own close() reaches
    // them. An idle socket has nothing unread, so destroying it sends a FIN; a
    // request the client sends at this very moment is refused with a reset before
    // any handler sees it, which a client may safely retry — but a proxy will not
    // retry a POST, hence the grace.
    const closeIdle = () => {
      for (const socket of [...tracker.open]) {
        const state = tracker.get(socket);
        if (state === undefined || state.inFlight > 0) continue;
        if (!tracker.isHttp(socket)) {
          // An upgraded connection (WebSocket) belongs to its 'upgrade' listener.
          tracker.forget(socket);
          continue;
        }
        tracker.markClosing(state, 'drain');
        socket.destroy();
      }
      // Node's own close: stops accepting, sweeps its idle connections, clears its timers.
      for (const server of servers) server.close();
    };
    if (idleGrace > 0) {
      // Stop accepting now, without Node's immediate idle sweep (net's close, not http's).
      for (const server of servers) {
        if (server.listening) NetServer.prototype.close.call(server);
      }
      grace = setTimeout(closeIdle, idleGrace);
      grace.unref();
    } else {
      closeIdle();
    }
    if (timeout !== Infinity && !finished) {
      deadline = setTimeout(function drainDeadline() {
        for (const socket of [...tracker.open]) {
          const state = tracker.get(socket);
          if (state !== undefined) tracker.markClosing(state, 'drain');
          forced.add(socket);
          socket.destroy();
        }
      }, timeout);
      // A drain must not keep the process alive by itself; open sockets do that.
      deadline.unref();
    }
    if (tracker.open.size === 0) done();
  });
}
