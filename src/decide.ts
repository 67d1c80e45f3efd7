import { hasToken, type HeaderValue } from './headers.js';
import type { PolicyAnswer } from './options.js';
import type { CloseReason } from './stats.js';

/**
 * Every keep/close rule of the README's "What it decides, per response", and
 * nothing else: pure functions of plain values, one for each moment a request
 * passes through. The glue (admission.ts, head-time.ts, and an HTTP/2 session's
 * streams alike) reads sockets and headers into these inputs and applies the
 * answer; it holds no rule of its own.
 */

/** What is known of a request when it arrives, before any handler has run. */
export interface ArrivalInput {
  /** The request's `Connection` header (Node joins repeated headers with ", "). */
  requestConnection: HeaderValue;
  /** `HTTP/1.0` request. */
  http10: boolean;
  /** `drain()` has been called. */
  draining: boolean;
  /**
   * The policy's answer, where it is known: a fixed policy's, or a policy
   * function's once asked. `undefined`: a function not asked yet (it is asked at
   * the request's arrival, only where rules 1–3 and the drain leave it open, so
   * that a close it answers stops what is pipelined behind, rule 7).
   */
  policyAnswer: PolicyAnswer | undefined;
  /** Who gave `policyAnswer`, for the reason text ("policy 'close'", "policy function"). */
  policySource: string;
  /** Ordinal of the request on its connection, and the limit. */
  requests: number;
  maxRequests: number;
  /** How long the connection has been open, and its own (jittered) limit, in ms. */
  age: number;
  ageLimit: number;
}

/** What is known when the response head is about to be written. */
export interface HeadInput extends ArrivalInput {
  /** The `Connection` header the handler set on the response, if any. */
  responseConnection: HeaderValue;
  /** The response can be delimited without closing (Content-Length, or no body). */
  delimited: boolean;
  /** The request reached the middleware (rule 6: a response written before it is Node's). */
  reachedMiddleware: boolean;
  /**
   * A request pipelined behind this one was refused for a close known at this
   * one's arrival (rule 7): nobody will answer it, so the connection must end.
   */
  refusedBehind: boolean;
  /** A request pipelined behind this one has already been handed to its handler. */
  handledBehind: boolean;
}

/** A decision is either keep-alive, or close with the stats bucket the close is counted in. */
export type Decision =
  | { readonly keepAlive: true; readonly reason: string }
  | { readonly keepAlive: false; readonly closedBy: CloseReason; readonly reason: string };

/** Rule 6: the response is not the policy's; Node writes its head as it would. */
export const LEFT_TO_NODE = Object.freeze({ leftToNode: true as const, reason: 'written before the middleware ran' });
/** A policy function must be asked (`policyAnswer`), then the same moment decided again. */
export const ASK_POLICY = Object.freeze({ askPolicy: true as const });

export type HeadVerdict = Decision | typeof LEFT_TO_NODE | typeof ASK_POLICY;

const KEEP: Decision = Object.freeze({ keepAlive: true, reason: 'persistent by default (RFC 9112 §9.3)' });
const KEEP_HTTP10: Decision = Object.freeze({
  keepAlive: true,
  reason: 'HTTP/1.0 request asked for keep-alive (RFC 9112 §9.3, Appendix C.2.2)',
});

const KEEP_FOR_PIPELINED: Decision = Object.freeze({
  keepAlive: true,
  reason: 'a pipelined request behind it is being handled: the last response carries any close',
});

function close(closedBy: CloseReason, reason: string): Decision {
  return { keepAlive: false, closedBy, reason };
}

/**
 * At arrival: the decision the head will carry unless something only known at
 * head time changes it (a handler's `Connection`, an undelimited HTTP/1.0 body, a
 * drain or the age limit reached meanwhile). A keep-alive answer here lets the
 * glue have Node write the head itself; `ASK_POLICY` means "ask the function
 * now, then decide again with its answer".
 */
export function decideAtArrival(input: ArrivalInput): Decision | typeof ASK_POLICY {
  return rules(input, undefined, true, false);
}

/**
 * At head time: the decision the head carries (README rules 1–4 and 6, in order).
 * Once the policy's answer is given it never asks.
 */
export function decideAtHead(input: HeadInput & { policyAnswer: PolicyAnswer }): Decision | typeof LEFT_TO_NODE;
export function decideAtHead(input: HeadInput): HeadVerdict;
export function decideAtHead(input: HeadInput): HeadVerdict {
  // Rule 6 — a response written before the middleware ran is Node's: nothing is
  // added to its head and nothing closed on its account (SPEC §1), even where the
  // policy saw the request arrive and knew it would close. Except in a drain, when
  // every response closes, and where a request pipelined behind it was refused for
  // that close (rule 7): nobody answers that one, so the connection must end.
  if (!input.reachedMiddleware && !input.draining && !input.refusedBehind) return LEFT_TO_NODE;
  return rules(input, input.responseConnection, input.delimited, input.handledBehind);
}

function rules(
  input: ArrivalInput,
  responseConnection: HeaderValue,
  delimited: boolean,
  handledBehind: boolean,
): Decision | typeof ASK_POLICY {
  // Rule 1 — RFC 9112 §9.6: a client's "close" means this is the last response,
  // whatever the handler wanted.
  if (hasToken(input.requestConnection, 'close')) {
    return close('client', 'client sent Connection: close (RFC 9112 §9.6)');
  }
  // Rule 2 — the handler's own close stands (its keep-alive only counts where the
  // other rules allow persistence, which is what falling through means).
  if (hasToken(responseConnection, 'close')) {
    return close('policy', 'handler set Connection: close');
  }
  // Rule 3 — RFC 9112 §9.3: HTTP/1.0 persists only when the client asked for it.
  if (input.http10) {
    if (!hasToken(input.requestConnection, 'keep-alive')) {
      return close('client', 'HTTP/1.0 request without Connection: keep-alive (RFC 9112 §9.3)');
    }
    // HTTP/1.0 has no chunked coding: a body of unknown length ends only when the
    // connection does (RFC 9112 §6.3, item 8).
    if (!delimited) {
      return close('policy', 'HTTP/1.0 response without Content-Length can only end by closing (RFC 9112 §6.3)');
    }
  }
  // Rule 7 — a request pipelined behind this one is with its handler already, and
  // Node writes nothing after a closing response: the server's own reasons to
  // close (rule 4) wait for the last such response, which carries them.
  if (handledBehind) return KEEP_FOR_PIPELINED;
  // Rule 4 — the server's own reasons.
  if (input.draining) return close('drain', 'draining');
  if (input.policyAnswer === undefined) return ASK_POLICY;
  if (input.policyAnswer === 'close') return close('policy', `${input.policySource} answered 'close'`);
  return limitReached(input) ?? (input.http10 ? KEEP_HTTP10 : KEEP);
}

/** Rules 4 and 8: the connection's own limits, `maxRequests` first. */
function limitReached(input: ArrivalInput): Decision | undefined {
  if (input.requests >= input.maxRequests) {
    return close('maxRequests', `maxRequests reached (${input.requests}/${input.maxRequests})`);
  }
  if (input.age >= input.ageLimit) {
    return close('maxAge', `maxAge reached (open ${Math.round(input.age)} ms, limit ${Math.round(input.ageLimit)} ms)`);
  }
  return undefined;
}

/**
 * Rule 7 at arrival: this request's response will close whatever happens before
 * its head — a close decided now (decisions made at arrival only ever turn to
 * close later, never back), or a limit reached, which closes whatever a policy
 * function (asked only at head time) answers. A request pipelined behind it is
 * then not handled.
 */
export function closesWhatever(arrival: Decision | typeof ASK_POLICY, input: ArrivalInput): boolean {
  if ('askPolicy' in arrival) return limitReached(input) !== undefined;
  return !arrival.keepAlive;
}

/** What happens to a request when it arrives (rule 7, and a connection a drain has ended). */
export type Admission =
  { readonly handle: true } | { readonly handle: false; readonly destroy: boolean; readonly reason: string };

const HANDLE: Admission = Object.freeze({ handle: true });
const ON_ENDED = Object.freeze({
  handle: false as const,
  destroy: true,
  reason: 'request on an ended connection refused before any handler',
});
const BEHIND_CLOSE = Object.freeze({
  handle: false as const,
  destroy: false,
  reason: 'pipelined request after a closing response: not handled',
});

/**
 * Whether a request's handler may run:
 * - on a connection the server already ended (a drain), no answer is possible:
 *   refuse it before any handler, which a client may safely retry;
 * - rule 7: a pipelined request behind a response that closes the connection
 *   will never be answered (Node writes nothing after that response), so its
 *   handler must not run either; the client retries it on a new connection
 *   (RFC 9112 §9.3.2).
 */
export function admission(connectionEnded: boolean, closeDecided: boolean): Admission {
  if (connectionEnded) return ON_ENDED;
  if (closeDecided) return BEHIND_CLOSE;
  return HANDLE;
}
