import type { IncomingMessage } from 'node:http';

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
 * connection are in flight at once, each with its own ordinal. (A WeakMap entry
 * costs less here than a new property on the request object.)
 */
const infoByRequest = new WeakMap<IncomingMessage, ConnectionInfo>();

export function setConnectionInfo(req: IncomingMessage, info: ConnectionInfo): void {
  infoByRequest.set(req, info);
}

/**
 * The `ConnectionInfo` of a request that went through `connectionPolicy()`,
 * or `undefined` for one that did not.
 */
export function connectionInfo(req: IncomingMessage): ConnectionInfo | undefined {
  return infoByRequest.get(req);
}
