import type { IncomingMessage } from 'node:http';
import { optionError } from './errors.js';
import { TOKEN } from './headers.js';
import type { ConnectionInfo } from './info.js';
import { checkBoolean, checkMilliseconds, checkNumber, checkOptionsObject, given, MAX_TIMER_MS } from './validate.js';

/** What the policy can answer for one request. */
export type PolicyAnswer = 'keep-alive' | 'close';

/** Decides per request; `info` describes the connection the request came on. */
export type PolicyFunction = (req: IncomingMessage, info: ConnectionInfo) => PolicyAnswer;

/** Options of `connectionPolicy()`. All are optional. */
export interface ConnectionPolicyOptions {
  /**
   * `'keep-alive'`: persistence as RFC 9112 §9.3 says. `'close'`: every response
   * carries `Connection: close` and the server closes after it. A function decides
   * per request, when the request arrives (before any handler; rule 7).
   * @default 'keep-alive'
   */
  policy?: PolicyAnswer | PolicyFunction | undefined;
  /**
   * Milliseconds a kept-alive connection may sit idle between a finished response
   * and the next request before the server closes it. Keep it above the idle timeout
   * of whatever sits in front (load balancers commonly use 60 s).
   * @default 65000
   */
  idleTimeout?: number | undefined;
  /**
   * The response to the Nth request on one connection carries `Connection: close`
   * (nginx `keepalive_requests`).
   * @default Infinity
   */
  maxRequests?: number | undefined;
  /**
   * The first response after a connection has been open this many milliseconds
   * carries `Connection: close` (nginx `keepalive_time`, gRPC MaxConnectionAge).
   * @default Infinity
   */
  maxAge?: number | undefined;
  /**
   * Each connection's own age limit is drawn uniformly from
   * `[maxAge × (1 − maxAgeJitter), maxAge]`.
   * @default 0.1
   */
  maxAgeJitter?: number | undefined;
  /**
   * Send `Keep-Alive: timeout=T[, max=N]` on kept-alive responses, with
   * T = max(1, floor(idleTimeout / 1000) − 1): at least one second below what the
   * server enforces from an `idleTimeout` of 2000 ms on; below that the hint is 1 s,
   * which is not below (HTTP has no shorter hint).
   * @default true
   */
  advertise?: boolean | undefined;
  /**
   * Set TCP_NODELAY on each connection. `false` leaves the socket as the server made it.
   * @default true
   */
  noDelay?: boolean | undefined;
  /**
   * Enable TCP keep-alive probes with this initial delay (ms), or `false` to leave them off.
   * @default false
   */
  tcpKeepAlive?: number | false | undefined;
  /**
   * Add a response header (`true`: `x-connection-id`, or the given name) whose value
   * is `<connection id>;req=<n>`. For tests and debugging.
   * @default false
   */
  exposeConnectionId?: boolean | string | undefined;
}

/** The validated, frozen options a policy runs with. */
export interface ResolvedOptions {
  readonly policy: PolicyAnswer | PolicyFunction;
  readonly idleTimeout: number;
  readonly maxRequests: number;
  readonly maxAge: number;
  readonly maxAgeJitter: number;
  readonly advertise: boolean;
  readonly noDelay: boolean;
  readonly tcpKeepAlive: number | false;
  /** The header name, lower-case, or `false`. */
  readonly exposeConnectionId: string | false;
  /** The `timeout=` the `Keep-Alive` header advertises, in seconds. */
  readonly advertisedTimeout: number;
}

/**
 * The defaults, in one place. The README's options table is checked against
 * this object by test/docs.test.ts.
 */
export const DEFAULTS = Object.freeze({
  policy: 'keep-alive',
  /** ms. Above the 60 s idle timeout of common load balancers (Node's own keepAliveTimeout is 5 s on 20–26). */
  idleTimeout: 65_000,
  maxRequests: Infinity,
  /** ms */
  maxAge: Infinity,
  maxAgeJitter: 0.1,
  advertise: true,
  noDelay: true,
  /** ms, or false */
  tcpKeepAlive: false,
  exposeConnectionId: false,
} as const satisfies Required<{ [K in keyof ConnectionPolicyOptions]: unknown }>);

/** The header `exposeConnectionId: true` adds. */
export const DEFAULT_CONNECTION_ID_HEADER = 'x-connection-id';

const OPTION_NAMES = Object.freeze(Object.keys(DEFAULTS));
const WHERE = 'connectionPolicy()';

/**
 * The seconds to advertise for an enforced idle timeout: its whole seconds less one,
 * so a client that honours the hint gives the connection up before the server
 * closes it and never sends on a socket the server is closing (the keep-alive
 * race). At least 1 (the hint has whole seconds only), so for an `idleTimeout`
 * below 2000 ms the hint is not below what the server enforces.
 */
export function advertisedTimeoutFor(idleTimeout: number): number {
  return Math.max(1, Math.floor(idleTimeout / 1000) - 1);
}

/**
 * Validates `options` once and returns a frozen copy with every default filled in.
 * The caller's object is read, never changed.
 */
export function resolveOptions(input?: ConnectionPolicyOptions): ResolvedOptions {
  const options = checkOptionsObject(WHERE, input, OPTION_NAMES);
  const option = <K extends keyof ConnectionPolicyOptions>(name: K) => given(options, name, DEFAULTS[name]);

  const policy = checkPolicy(option('policy'));

  const idleTimeout = option('idleTimeout');
  checkMilliseconds(WHERE, 'idleTimeout', idleTimeout, { min: 1 });

  const maxRequests = option('maxRequests');
  checkNumber(WHERE, 'maxRequests', maxRequests, {
    integer: true,
    min: 1,
    infinity: true,
    allowed: 'an integer ≥ 1 or Infinity',
  });

  // A timer longer than 2^31 − 1 ms fires at once in Node (TimeoutOverflowWarning):
  // an HTTP/2 session's age timer would end it within milliseconds.
  const maxAge = option('maxAge');
  checkMilliseconds(WHERE, 'maxAge', maxAge, { min: 1, infinity: true });

  const maxAgeJitter = option('maxAgeJitter');
  checkNumber(WHERE, 'maxAgeJitter', maxAgeJitter, { min: 0, max: 1, allowed: 'a number from 0 to 1' });

  const advertise = option('advertise');
  checkBoolean(WHERE, 'advertise', advertise);
  const noDelay = option('noDelay');
  checkBoolean(WHERE, 'noDelay', noDelay);

  const tcpKeepAlive = option('tcpKeepAlive');
  if (tcpKeepAlive !== false) {
    // Node sets the delay in whole seconds (`setKeepAlive` divides by 1000 and
    // truncates; 20–26): below 1000 ms it would be 0, which leaves the OS default
    // (2 hours on Linux) in place without a word.
    checkNumber(WHERE, 'tcpKeepAlive', tcpKeepAlive, {
      integer: true,
      min: 1000,
      max: MAX_TIMER_MS,
      allowed: `false or an integer number of milliseconds from 1000 to ${MAX_TIMER_MS} (the initial delay of the probes; Node sets it in whole seconds)`,
    });
  }

  const exposeConnectionId = checkExposeConnectionId(option('exposeConnectionId'));

  return Object.freeze({
    policy: policy,
    idleTimeout: idleTimeout as number,
    maxRequests: maxRequests as number,
    maxAge: maxAge as number,
    maxAgeJitter: maxAgeJitter as number,
    advertise: advertise as boolean,
    noDelay: noDelay as boolean,
    tcpKeepAlive: tcpKeepAlive as number | false,
    exposeConnectionId,
    advertisedTimeout: advertisedTimeoutFor(idleTimeout as number),
  });
}

function checkPolicy(policy: unknown): PolicyAnswer | PolicyFunction {
  if (typeof policy === 'function' || policy === 'keep-alive' || policy === 'close')
    return policy as PolicyAnswer | PolicyFunction;
  throw optionError(
    WHERE,
    typeof policy === 'string' ? 'ERR_INVALID_ARG_VALUE' : 'ERR_INVALID_ARG_TYPE',
    'policy',
    policy,
    `'keep-alive', 'close' or a function (req, info) => 'keep-alive' | 'close'`,
  );
}

/** `true`: the default header name; a name: lower-cased, once. */
function checkExposeConnectionId(expose: unknown): string | false {
  if (typeof expose === 'boolean') return expose && DEFAULT_CONNECTION_ID_HEADER;
  if (typeof expose === 'string' && TOKEN.test(expose)) return expose.toLowerCase();
  throw optionError(
    WHERE,
    typeof expose === 'string' ? 'ERR_INVALID_ARG_VALUE' : 'ERR_INVALID_ARG_TYPE',
    'exposeConnectionId',
    expose,
    'a boolean or a valid header name (RFC 9110 token)',
  );
}
