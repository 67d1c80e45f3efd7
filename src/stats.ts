/** Why a connection closed. Each closed connection is counted under exactly one. */
export type CloseReason =
  /** The client closed, or asked to close (`Connection: close`, HTTP/1.0 without keep-alive). */
  | 'client'
  /** The server chose to: policy `'close'`, the policy function, or a handler's `Connection: close`. */
  | 'policy'
  /** The `maxRequests`th response on the connection. */
  | 'maxRequests'
  /** The first response after the connection's age limit. */
  | 'maxAge'
  /** Idle longer than `idleTimeout` between requests. */
  | 'idleTimeout'
  /** Closed by `drain()`, gracefully or at its deadline, or by the server's own `close()` (an idle connection it ended). */
  | 'drain'
  /** A socket error (reset by the peer, …). */
  | 'error';

/** A snapshot of a policy's connections; a fresh plain object on every call. */
export interface ConnectionStats {
  /** Connections open now. */
  open: number;
  /** Of those, idle between requests. */
  idle: number;
  /** Connections seen in total. */
  accepted: number;
  /** Requests in total. */
  requests: number;
  /** Requests served on a connection that had served one before. */
  reusedRequests: number;
  /** Connections closed, by the reason that closed them (each counted once). */
  closed: Record<CloseReason, number>;
}

/** How a `drain()` ended. */
export interface DrainResult {
  /** Connections that closed by themselves or after their last response. */
  graceful: number;
  /** Connections still open at the deadline, destroyed. */
  destroyed: number;
}

export function emptyClosedCounts(): Record<CloseReason, number> {
  return { client: 0, policy: 0, maxRequests: 0, maxAge: 0, idleTimeout: 0, drain: 0, error: 0 };
}
