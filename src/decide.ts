import { hasToken, type HeaderValue } from './headers.js';
import type { PolicyAnswer } from './options.js';
import type { CloseReason } from './stats.js';

/** Everything one keep/close decision depends on, as plain values. */
export interface DecisionInput {
  /** The request's `Connection` header (Node joins repeated headers with ", "). */
  requestConnection: HeaderValue;
  /** `HTTP/1.0` request. */
  http10: boolean;
  /** The `Connection` header the handler set on the response, if any. */
  responseConnection: HeaderValue;
  /** The response can be delimited without closing (Content-Length, or no body). */
  delimited: boolean;
  /** `drain()` has been called. */
  draining: boolean;
  /** The policy's answer for this request; only asked when rules 1–3 leave it open. */
  askPolicy: () => { answer: PolicyAnswer; from: string };
  /** Ordinal of the request on its connection, and the limit. */
  requests: number;
  maxRequests: number;
  /** How long the connection has been open, and its own (jittered) limit, in ms. */
  age: number;
  ageLimit: number;
}

export interface Decision {
  keepAlive: boolean;
  /** Human-readable, for the debug log. */
  reason: string;
  /** The stats bucket a close is counted in. */
  closedBy?: CloseReason;
}

function close(closedBy: CloseReason, reason: string): Decision {
  return { keepAlive: false, closedBy, reason };
}

const KEEP: Decision = Object.freeze({ keepAlive: true, reason: 'persistent by default (RFC 9112 §9.3)' });
const KEEP_HTTP10: Decision = Object.freeze({
  keepAlive: true,
  reason: 'HTTP/1.0 request asked for keep-alive (RFC 9112 §9.3, Appendix C.2.2)',
});

/**
 * The README's "What it decides, per response", rules 1–4, in order. Pure: the caller applies it.
 */
export function decide(input: DecisionInput): Decision {
  // Rule 1 — RFC 9112 §9.6: a client's "close" means this is the last response,
  // whatever the handler wanted.
  if (hasToken(input.requestConnection, 'close')) {
    return close('client', 'client sent Connection: close (RFC 9112 §9.6)');
  }
  // Rule 2 — the handler's own close stands (its keep-alive only counts where the
  // other rules allow persistence, which is what falling through means).
  if (hasToken(input.responseConnection, 'close')) {
    return close('policy', 'handler set Connection: close');
  }
  // Rule 3 — RFC 9112 §9.3: HTTP/1.0 persists only when the client asked for it.
  if (input.http10) {
    if (!hasToken(input.requestConnection, 'keep-alive')) {
      return close('client', 'HTTP/1.0 request without Connection: keep-alive (RFC 9112 §9.3)');
    }
    // HTTP/1.0 has no chunked coding: a body of unknown length ends only when the
    // connection does (RFC 9112 §6.3, item 8).
    if (!input.delimited) {
      return close('policy', 'HTTP/1.0 response without Content-Length can only end by closing (RFC 9112 §6.3)');
    }
  }
  // Rule 4 — the server's own reasons.
  if (input.draining) return close('drain', 'draining');
  const { answer, from } = input.askPolicy();
  if (answer === 'close') return close('policy', `${from} answered 'close'`);
  if (input.requests >= input.maxRequests) {
    return close('maxRequests', `maxRequests reached (${input.requests}/${input.maxRequests})`);
  }
  if (input.age >= input.ageLimit) {
    return close('maxAge', `maxAge reached (open ${Math.round(input.age)} ms, limit ${Math.round(input.ageLimit)} ms)`);
  }
  return input.http10 ? KEEP_HTTP10 : KEEP;
}
