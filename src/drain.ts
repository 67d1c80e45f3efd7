import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
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
}

export const DRAIN_DEFAULTS = Object.freeze({ timeout: 10_000 });

export function resolveDrainOptions(options: DrainOptions = {}): { timeout: number } {
  const where = 'drain()';
  if (options === null || typeof options !== 'object') {
    throw optionError(where, 'ERR_INVALID_ARG_TYPE', 'options', options, 'an object or undefined');
  }
  for (const name of Object.keys(options)) {
    if (name !== 'timeout') throw unknownOptionError(where, name, ['timeout']);
  }
  const timeout = options.timeout ?? DRAIN_DEFAULTS.timeout;
  const allowed = 'a number of milliseconds ≥ 0, or Infinity';
  if (typeof timeout !== 'number') throw optionError(where, 'ERR_INVALID_ARG_TYPE', 'timeout', timeout, allowed);
  if (Number.isNaN(timeout) || timeout < 0) throw optionError(where, 'ERR_OUT_OF_RANGE', 'timeout', timeout, allowed);
  return { timeout };
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
  timeout: number,
): Promise<DrainResult> {
  return new Promise((resolve) => {
    let graceful = 0;
    let destroyed = 0;
    const forced = new WeakSet<Socket>();
    let deadline: NodeJS.Timeout | undefined;

    const done = () => {
      if (deadline !== undefined) clearTimeout(deadline);
      tracker.onRelease = undefined;
      if (debug.enabled) debug('drain: done, %d graceful, %d destroyed', graceful, destroyed);
      resolve({ graceful, destroyed });
    };
    tracker.onRelease = (socket) => {
      if (forced.has(socket)) destroyed++;
      else graceful++;
      if (tracker.open.size === 0) done();
    };

    if (debug.enabled) debug('drain: %d connection(s) open, timeout %d ms', tracker.open.size, timeout);
    // Idle connections first, counted as 'drain' before Node's own close() reaches
    // them. An idle socket has nothing unread, so destroying it sends a FIN; a
    // request the client sends at this very moment is refused with a reset before
    // any handler sees it, which a client may safely retry.
    for (const socket of [...tracker.open]) {
      const state = tracker.get(socket);
      if (state !== undefined && state.inFlight === 0) {
        tracker.markClosing(state, 'drain');
        socket.destroy();
      }
    }
    for (const server of servers) {
      if (server.listening) server.close();
    }
    if (timeout !== Infinity) {
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
