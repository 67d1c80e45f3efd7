import { channel } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { ConnectionInfo } from './info.js';
import type { CloseReason } from './stats.js';

// `node:diagnostics_channel` names (docs/observability.md): APM agents and
// OpenTelemetry instrumentations subscribe by name, as they do to undici's and
// `node:http`'s own channels, without wrapping anything.

/** The channel of every response's decision; messages are `DecisionMessage`s. */
export const DECISION_CHANNEL = 'express-connection-policy:decision';
/** The channel of every tracked connection's close; messages are `CloseMessage`s. */
export const CLOSE_CHANNEL = 'express-connection-policy:close';

/** A message on `DECISION_CHANNEL`: once per response, with the decision its head carries. */
export interface DecisionMessage {
  /**
   * An HTTP/2 server's compatibility-API objects for its streams; on a server that
   * uses the `'stream'` API alone, the `ServerHttp2Stream` (as both).
   */
  request: IncomingMessage | Http2ServerRequest | ServerHttp2Stream;
  response: ServerResponse | Http2ServerResponse | ServerHttp2Stream;
  info: ConnectionInfo;
  keepAlive: boolean;
  /** The text `NODE_DEBUG=connection-policy` logs. */
  reason: string;
}

/** A message on `CLOSE_CHANNEL`: once per tracked connection, when it closes. */
export interface CloseMessage {
  socket: Socket;
  /** The connection's id, as in `ConnectionInfo.id`. */
  id: number;
  /** The first reason that applied, as counted in `stats().closed`. */
  reason: CloseReason;
  requests: number;
  durationMs: number;
}

/**
 * Looked up once: `channel()` returns the same object for a name, so a
 * subscriber that arrives later is seen through `hasSubscribers` on the next
 * request. Publishing is guarded by `hasSubscribers` at every call site, so
 * nothing is built or sent when nobody listens.
 */
export const decisionChannel = channel(DECISION_CHANNEL);
export const closeChannel = channel(CLOSE_CHANNEL);
