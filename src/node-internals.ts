import { OutgoingMessage, type ServerResponse } from 'node:http';
import type { HeaderValue } from './headers.js';
import type { ServerHttp2Session } from 'node:http2';
import { Server as NetServer, type Socket } from 'node:net';

/**
 * Every assumption this package makes about undocumented behaviour of Node (or of
 * another package), in one place. Each function says what it relies on and on
 * which Node lines it was read from the source and measured (20.20, 22.23, 24.22,
 * 26.12); test/node-internals.test.ts has a canary for each that fails, naming
 * the assumption, on a line where it no longer holds.
 */

/**
 * Node 20 adds a fixed 1 s (`HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER`) to
 * `keepAliveTimeout` for its real idle close; 22 and later expose it as the
 * public, settable `server.keepAliveTimeoutBuffer` (1000 by default), which is
 * read from the server so that a user who changed it keeps the alignment
 * `attach()` promises.
 */
export const NODE_20_KEEP_ALIVE_BUFFER = 1000;

export type ServerTimers = { keepAliveTimeout?: number; keepAliveTimeoutBuffer?: number; timeout?: number; listening?: boolean };

export function keepAliveBufferOf(server: ServerTimers): number {
  const buffer = server.keepAliveTimeoutBuffer;
  return typeof buffer === 'number' && Number.isFinite(buffer) && buffer >= 0 ? buffer : NODE_20_KEEP_ALIVE_BUFFER;
}

/**
 * The server a socket was accepted by: `net.Server` sets `socket.server` on every
 * connection it accepts (TLS sockets too). Undocumented, present on 20–26.
 */
export function serverOf(socket: Socket): ServerTimers | undefined {
  return (socket as Socket & { server?: ServerTimers }).server;
}

/**
 * `socket.setTimeout(ms)` where the connection has one: a server may be fed any
 * Duplex (`server.emit('connection', stream)`), and Node's own server checks
 * `typeof socket.setTimeout === 'function'` before arming its timers (20–26).
 */
export function setSocketTimeout(socket: Socket, ms: number): void {
  if (typeof socket.setTimeout === 'function') socket.setTimeout(ms);
}

/**
 * Whether Node's HTTP server still drives the socket. Node's HTTP server adds its
 * own `'timeout'` listener to every connection and takes it off when the
 * connection is upgraded (WebSocket) and handed to an `'upgrade'` listener; with
 * ours beside it, more than one listener means "still HTTP". 20–26.
 */
export function isHttpSocket(socket: Socket): boolean {
  return socket.listenerCount('timeout') > 1;
}

/**
 * Whether a response is in flight on the connection: Node's HTTP server assigns
 * each response to its socket as `socket._httpMessage` when the request's head has
 * been parsed (queued pipelined responses follow it) and clears it when the last
 * one has finished. Node's own `server.closeIdleConnections()` (19+) relies on the
 * same field; 20–26.
 */
export function responseInFlight(socket: Socket): ServerResponse | undefined {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;
}

/**
 * The `Keep-Alive` hint Node writes itself: when Node writes `Connection:
 * keep-alive` (no handler set a `Connection` header, the response persists and
 * is delimited), it adds `Keep-Alive: timeout=<floor(res._keepAliveTimeout /
 * 1000)>` and, where `res._maxRequestsPerSocket > 0`, `, max=<that>`; with
 * `_keepAliveTimeout` 0 it writes no hint. Node copies both fields from the
 * server onto each response before the `'request'` event (`parserOnIncoming`)
 * and reads them in `_storeHeader`; 20–26. Setting them per response makes Node
 * write exactly our hint, and only on responses that really persist.
 */
export function setKeepAliveHint(res: ServerResponse, timeoutSeconds: number, max: number): void {
  const fields = res as ServerResponse & { _keepAliveTimeout: number; _maxRequestsPerSocket: number };
  fields._keepAliveTimeout = timeoutSeconds * 1000;
  fields._maxRequestsPerSocket = max;
}

/** Puts back the hint fields Node copied from the server (a response the policy leaves alone). */
export function restoreNodeHint(res: ServerResponse): void {
  const server = serverOf(res.req.socket) as { keepAliveTimeout?: number; maxRequestsPerSocket?: number } | undefined;
  const fields = res as ServerResponse & { _keepAliveTimeout: number; _maxRequestsPerSocket: number };
  fields._keepAliveTimeout = server?.keepAliveTimeout ?? 0;
  fields._maxRequestsPerSocket = server?.maxRequestsPerSocket ?? 0;
}

/**
 * A header a response has been given so far (`name` in lower case), read where
 * Node keeps them: `res[kOutHeaders]`, `null` until the first `setHeader()`,
 * then a null-prototype object keyed by lower-case name whose values are
 * `[name as given, value]` (`lib/_http_outgoing.js`; 20–26). `getHeader()`
 * returns the same, after validating and lower-casing its argument on every
 * call: two such calls per response were about 1 % of an Express hello world's
 * server CPU (bench/interleaved.ts, Node 20.20). Falls back to `getHeader()`
 * where the symbol is missing (the canary fails first).
 */
export function outgoingHeader(res: ServerResponse, name: string): HeaderValue {
  if (kOutHeaders === undefined) return res.getHeader(name);
  const headers = (res as unknown as Record<symbol, Record<string, [string, HeaderValue]> | null | undefined>)[kOutHeaders];
  return headers == null ? undefined : headers[name]?.[1];
}
const kOutHeaders = Object.getOwnPropertySymbols(new OutgoingMessage()).find((s) => s.description === 'kOutHeaders');

/**
 * The head a response put on the wire, as Node wrote it: `res._header`, the
 * status line and header lines Node built in `_storeHeader` (set once the head
 * is written; `on-headers`-style libraries and Node's own tests read it). Fields
 * Node adds itself (`Connection`, `Keep-Alive`, `Date`) are only there, not in
 * `getHeaders()`; 20–26.
 */
export function writtenHead(res: ServerResponse): string | undefined {
  const head = (res as ServerResponse & { _header?: unknown })._header;
  return typeof head === 'string' ? head : undefined;
}

/**
 * Stops accepting without `http.Server.prototype.close`'s immediate sweep of idle
 * connections (`closeIdleConnections()`, 19+): the net-level close is what that
 * method calls after the sweep; 20–26.
 */
export function stopAccepting(server: NetServer): void {
  if (server.listening) NetServer.prototype.close.call(server);
}

/**
 * A supertest `TestAgent` (`request.agent(appOrServer)`, supertest 7.x): the app,
 * server or URL it targets is `agent.app`, and superagent's `Agent` (10.x)
 * records every `.set(name, value)` / `.set({ … })` call in its private
 * `_defaults` list, which it replays on each request. `undefined` for anything
 * that is not shaped like one.
 */
export function supertestAgentParts(target: unknown): { app: unknown; headers: Record<string, string> } | undefined {
  if (typeof target !== 'object' || target === null || !('app' in target)) return undefined;
  const agent = target as { app: unknown; _defaults?: Array<{ fn: string; args: unknown[] }> };
  const headers: Record<string, string> = {};
  for (const { fn, args } of agent._defaults ?? []) {
    if (fn !== 'set') continue;
    const value = args[1];
    if (typeof args[0] === 'string' && (typeof value === 'string' || typeof value === 'number'))
      headers[args[0].toLowerCase()] = String(value);
    if (typeof args[0] === 'object' && args[0] !== null) {
      for (const [k, v] of Object.entries(args[0])) headers[k.toLowerCase()] = String(v);
    }
  }
  return { app: agent.app, headers };
}

/**
 * node:http2 creates a server session inside its own `'connection'` listener
 * (`'secureConnection'` for TLS) and emits `'session'` before that listener
 * returns. A listener prepended to that event therefore sees each socket just
 * before its session appears, which is how `onSession` gets the TCP or TLS socket
 * under a session (`session.socket` is a proxy that refuses `setNoDelay` and
 * `setKeepAlive`). TLS connections that did not negotiate `h2` are HTTP/1.1
 * (`allowHTTP1`) and go to `onHttp1` instead; 20–26.
 */
export function watchSessions(
  server: NetServer,
  secure: boolean,
  onHttp1: (socket: Socket) => void,
  onSession: (session: ServerHttp2Session, socket: Socket | undefined) => void,
): void {
  let pending: Socket | undefined;
  server.prependListener(secure ? 'secureConnection' : 'connection', (socket: Socket) => {
    if (secure && (socket as Socket & { alpnProtocol?: string | false }).alpnProtocol !== 'h2') onHttp1(socket);
    else pending = socket;
  });
  server.on('session', (session: ServerHttp2Session) => {
    const socket = pending;
    pending = undefined;
    onSession(session, socket);
  });
}

/**
 * The streams open on an HTTP/2 session now. node:http2 keeps a session's open
 * streams in a Map at `.streams` of the object under its `state` symbol
 * (lib/internal/http2/core.js; a stream is added when it starts and deleted when
 * it closes; 20–26). No public API counts them, and a `'close'` listener on every
 * stream costs about 1 % of an HTTP/2 request's server CPU (bench/interleaved.ts,
 * Node 20.20). 0 where the field is missing (the canary fails first).
 */
export function openStreamCount(session: ServerHttp2Session): number {
  kSessionState ??= Object.getOwnPropertySymbols(session).find((symbol) => symbol.description === 'state');
  if (kSessionState === undefined) return 0;
  // A SafeMap of Node's primordials: Map's methods on a null prototype, so not `instanceof Map`.
  const size = (session as unknown as Record<symbol, { streams?: { size?: unknown } } | undefined>)[kSessionState]?.streams?.size;
  return typeof size === 'number' ? size : 0;
}
let kSessionState: symbol | undefined;
