import type { EventEmitter } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import { Server as TlsServer } from 'node:tls';
import { debug } from './debug.js';
import { keepAliveBufferOf, type ServerTimers } from './node-internals.js';

/**
 * The idle timer Node itself arms after a kept-alive response (`resOnFinish`):
 * `keepAliveTimeout + buffer`, or 0 when `keepAliveTimeout` is 0 (then Node arms
 * none, and does not disarm one at the next request either).
 */
export function nodeIdleTimerOf(server: ServerTimers | undefined): number {
  const kat = server?.keepAliveTimeout ?? 0;
  return kat > 0 ? kat + keepAliveBufferOf(server!) : 0;
}

/**
 * Makes Node's own timers agree with the policy, for the responses the middleware
 * never sees (written before it ran, or by Node itself):
 *
 * - Node closes an idle connection `keepAliveTimeout + buffer` after a response
 *   and advertises `timeout=floor(keepAliveTimeout / 1000)`. With
 *   `keepAliveTimeout = idleTimeout − buffer` the real close is `idleTimeout` and
 *   the hint is the one the middleware sends. (Responses that pass through the
 *   middleware get `idleTimeout` exactly, set per socket after Node's timer.)
 * - Assigning `headersTimeout > requestTimeout` after construction skips Node's
 *   check and the two are silently swapped; keep `headersTimeout ≤ requestTimeout`.
 */
export function alignServerTimers(server: HttpServer, idleTimeout: number): void {
  // 0 would switch Node's idle timer off altogether, so never go below 1 ms.
  server.keepAliveTimeout = Math.max(1, idleTimeout - keepAliveBufferOf(server));
  if (server.requestTimeout > 0 && server.headersTimeout > server.requestTimeout) {
    if (debug.enabled) {
      debug('attach: headersTimeout %d > requestTimeout %d; lowered to match', server.headersTimeout, server.requestTimeout);
    }
    server.headersTimeout = server.requestTimeout;
  }
}

/**
 * The event that hands over the socket requests will arrive on: for HTTPS that is
 * the TLS socket after the handshake, not the raw TCP one.
 */
export function connectionEventOf(server: HttpServer): 'connection' | 'secureConnection' {
  return server instanceof TlsServer ? 'secureConnection' : 'connection';
}

/**
 * Runs `listener` first for `event`, but only while the application listens for it
 * too. Node decides by whether a server has listeners: an HTTP server hands a
 * CONNECT request or an upgrade to the app only when it listens for `'connect'` /
 * `'upgrade'` (else it answers or closes the socket itself), and an HTTP/2 server
 * switches on its compatibility layer for every stream once anything listens for
 * `'request'` (20–26). A listener of ours alone must change none of that, so it is
 * added when the app adds its first (`'newListener'` comes just before), and taken
 * off again when only ours is left.
 */
export function listenAlongside(server: EventEmitter, event: string, listener: (...args: never[]) => void): void {
  const ours = listener as (...args: unknown[]) => void;
  const watch = (name: string | symbol) => {
    if (name !== event) return;
    server.removeListener('newListener', watch);
    server.prependListener(event, ours);
  };
  const unwatch = (name: string | symbol) => {
    if (name !== event || server.listenerCount(event) !== 1 || server.listeners(event)[0] !== ours) return;
    server.removeListener(event, ours);
    server.on('newListener', watch);
  };
  if (server.listenerCount(event) > 0) server.prependListener(event, ours);
  else server.on('newListener', watch);
  server.on('removeListener', unwatch);
}
