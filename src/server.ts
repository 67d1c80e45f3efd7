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
