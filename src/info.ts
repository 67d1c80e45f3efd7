import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest, ServerHttp2Stream } from 'node:http2';

/** What the server knows of the connection a request arrived on. */
export interface ConnectionInfo {
  /** Unique per connection within the process, from 1. */
  readonly id: number;
  /** Ordinal of this request on its connection, from 1. */
  readonly requests: number;
  /** `requests > 1`: the connection served a request before this one. */
  readonly reused: boolean;
  /** ms since the epoch when the connection was accepted (or first seen by the middleware). */
  readonly openedAt: number;
}

/**
 * Per request, not per socket: with pipelining several requests of one
 * connection are in flight at once, each with its own ordinal. Kept on the
 * request under a registered symbol: cheaper per request than a `WeakMap` entry
 * (no ephemeron for the garbage collector to trace). Registered (`Symbol.for`) so
 * that two copies of the package in one process (two versions installed side by
 * side) still read each other's; `import` and `require` of one version already
 * share one instance (scripts/cjs-entries.mjs).
 */
const kInfo = Symbol.for('express-connection-policy.info');

/** What carries a `ConnectionInfo`: a request, or the stream of a `'stream'`-only HTTP/2 server. */
export type InfoCarrier = IncomingMessage | Http2ServerRequest | ServerHttp2Stream;

type WithInfo = InfoCarrier & { [kInfo]?: ConnectionInfo };

export function setConnectionInfo(req: InfoCarrier, info: ConnectionInfo): void {
  (req as WithInfo)[kInfo] = info;
}

/**
 * The `ConnectionInfo` of a request that went through `connectionPolicy()` (or
 * arrived on a server it is attached to, HTTP/2 requests included; on an HTTP/2
 * server that uses the `'stream'` API alone, pass the `ServerHttp2Stream`), or
 * `undefined` for one that did not.
 */
export function connectionInfo(req: InfoCarrier): ConnectionInfo | undefined {
  return (req as WithInfo)[kInfo];
}
