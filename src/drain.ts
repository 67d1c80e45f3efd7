import { optionError, unknownOptionError } from './errors.js';

export interface DrainOptions {
  /**
   * Milliseconds to wait for connections to close by themselves before destroying
   * what is left. `Infinity` waits for ever.
   * @default 10000
   */
  timeout?: number | undefined;
  /**
   * Milliseconds to keep idle keep-alive connections open after the drain starts:
   * a request arriving on one meanwhile is answered with `Connection: close`, so a
   * proxy's busy connection pool drains without ever sending on a connection the
   * server is closing. 0 ends idle connections at once.
   * @default 0
   */
  idleGrace?: number | undefined;
}

export const DRAIN_DEFAULTS = Object.freeze({ timeout: 10_000, idleGrace: 0 });

export function resolveDrainOptions(options: DrainOptions = {}): { timeout: number; idleGrace: number } {
  const where = 'drain()';
  if (options === null || typeof options !== 'object') {
    throw optionError(where, 'ERR_INVALID_ARG_TYPE', 'options', options, 'an object or undefined');
  }
  const names = Object.keys(DRAIN_DEFAULTS);
  for (const name of Object.keys(options)) {
    if (!names.includes(name)) throw unknownOptionError(where, name, names);
  }
  const ms = (name: 'timeout' | 'idleGrace', allowed: string, infinity: boolean): number => {
    const value = options[name] ?? DRAIN_DEFAULTS[name];
    if (typeof value !== 'number') throw optionError(where, 'ERR_INVALID_ARG_TYPE', name, value, allowed);
    if (Number.isNaN(value) || value < 0 || (!infinity && !Number.isFinite(value))) {
      throw optionError(where, 'ERR_OUT_OF_RANGE', name, value, allowed);
    }
    return value;
  };
  return {
    timeout: ms('timeout', 'a number of milliseconds ≥ 0, or Infinity', true),
    idleGrace: ms('idleGrace', 'a finite number of milliseconds ≥ 0', false),
  };
}
