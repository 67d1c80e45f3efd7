import { checkMilliseconds, checkOptionsObject, given } from './validate.js';

export interface DrainOptions {
  /**
   * Milliseconds to wait for connections to close by themselves before destroying
   * what is left. `Infinity` waits for ever.
   * @default 10000
   */
  timeout?: number | undefined;
  /**
   * The announce phase: from the call, `policy.draining` is true, readiness answers
   * 503 and every response closes its connection, but attached servers keep
   * accepting and serving for this many milliseconds (while load balancers and
   * Kubernetes take the instance out of rotation); only then does the drain run.
   * `timeout` counts from the end of the delay.
   * @default 0
   */
  delay?: number | undefined;
  /**
   * Milliseconds to keep idle keep-alive connections open after the drain starts:
   * a request arriving on one meanwhile is answered with `Connection: close`, so a
   * proxy's busy connection pool drains without ever sending on a connection the
   * server is closing. 0 ends idle connections at once.
   * @default 0
   */
  idleGrace?: number | undefined;
}

export const DRAIN_DEFAULTS = Object.freeze({ timeout: 10_000, delay: 0, idleGrace: 0 });
const NAMES = Object.keys(DRAIN_DEFAULTS);

export type ResolvedDrainOptions = { readonly [K in keyof typeof DRAIN_DEFAULTS]: number };

/** Integers in ms from 0 to 2147483647 (`timeout` also `Infinity`), checked at the call (README, "Graceful shutdown"). */
export function resolveDrainOptions(input?: DrainOptions): ResolvedDrainOptions {
  const where = 'drain()';
  const options = checkOptionsObject(where, input, NAMES);
  return Object.freeze({
    timeout: checkMilliseconds(where, 'timeout', given(options, 'timeout', DRAIN_DEFAULTS.timeout), { min: 0, infinity: true }),
    delay: checkMilliseconds(where, 'delay', given(options, 'delay', DRAIN_DEFAULTS.delay), { min: 0 }),
    idleGrace: checkMilliseconds(where, 'idleGrace', given(options, 'idleGrace', DRAIN_DEFAULTS.idleGrace), { min: 0 }),
  });
}
