import { optionError, unknownOptionError } from './errors.js';

/**
 * The one option-validation kit, used by `connectionPolicy()`, `drain()` and the
 * testing helpers, so that every function applies the same rules and throws the
 * same error shape (`TypeError` / `RangeError` with a `code`, naming the
 * function, the option, the value and what is allowed).
 */

/**
 * Node's timers hold at most 2^31 − 1 ms: a larger delay is replaced by 1 ms with
 * a `TimeoutOverflowWarning`, which would turn a long timeout into an immediate one.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Checks that `options` is a plain options object with only `known` keys; `undefined` is `{}`. */
export function checkOptionsObject<T extends object>(where: string, options: T | undefined, known: readonly string[]): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw optionError(where, 'ERR_INVALID_ARG_TYPE', 'options', options, 'an object or undefined');
  }
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) throw unknownOptionError(where, name, known);
  }
  return options;
}

/** An option's value, or its default when it was not given (`undefined`; `null` is a value, and wrong). */
export function given<T extends object, K extends keyof T, D>(options: T, name: K, fallback: D): T[K] | D {
  return options[name] === undefined ? fallback : options[name];
}

export interface NumberRule {
  /** Whole numbers only. */
  integer?: boolean;
  min: number;
  /** Inclusive; none when absent. */
  max?: number;
  /** `Infinity` is allowed (and returned as is). */
  infinity?: boolean;
  /** What is allowed, for the message: "an integer number of milliseconds from 0 to …". */
  allowed: string;
}

/** A number within a rule; arrays, objects, strings, `null`, `NaN` are rejected. */
export function checkNumber(where: string, name: string, value: unknown, rule: NumberRule): number {
  if (typeof value !== 'number') {
    throw optionError(where, 'ERR_INVALID_ARG_TYPE', name, value, rule.allowed);
  }
  if (value === Infinity && rule.infinity === true) return value;
  const outOfRange =
    !Number.isFinite(value) ||
    (rule.integer === true && !Number.isInteger(value)) ||
    value < rule.min ||
    (rule.max !== undefined && value > rule.max);
  if (outOfRange) throw optionError(where, 'ERR_OUT_OF_RANGE', name, value, rule.allowed);
  return value;
}

/**
 * A duration handed to a Node timer: an integer number of milliseconds from `min`
 * to 2^31 − 1, or `Infinity` where "never" makes sense.
 */
export function checkMilliseconds(
  where: string,
  name: string,
  value: unknown,
  { min, infinity = false }: { min: number; infinity?: boolean },
): number {
  const allowed = `an integer number of milliseconds from ${min} to ${MAX_TIMER_MS}${infinity ? ', or Infinity' : ''}`;
  return checkNumber(where, name, value, { integer: true, min, max: MAX_TIMER_MS, infinity, allowed });
}

export function checkBoolean(where: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw optionError(where, 'ERR_INVALID_ARG_TYPE', name, value, 'true or false');
  return value;
}
