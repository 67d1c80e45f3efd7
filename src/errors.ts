import { inspect } from 'node:util';

/**
 * Error codes thrown by `connectionPolicy()` for a bad option. docs/decisions.md's
 * "Errors" table lists the same codes; test/docs.test.ts keeps the two in step.
 */
export const ERROR_CODES = Object.freeze({
  /** The option has the wrong type (a string where a number belongs, `null`, …). */
  ERR_INVALID_ARG_TYPE: TypeError,
  /** The option has the right type but is not one of the accepted values, or is not an option at all. */
  ERR_INVALID_ARG_VALUE: TypeError,
  /** A number outside the accepted range, `NaN`, or a fraction where an integer belongs. */
  ERR_OUT_OF_RANGE: RangeError,
});

/** The `code` of an option error: `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` or `ERR_OUT_OF_RANGE`. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** An error with Node's own `code` convention (`err.code === 'ERR_OUT_OF_RANGE'`). */
export type OptionError = (TypeError | RangeError) & { code: ErrorCode };

/** Shows a value the way a user typed it: strings quoted, `NaN`, `-1`, `[Function: f]`. */
export function describeValue(value: unknown): string {
  return inspect(value, { depth: 0, breakLength: Infinity, maxStringLength: 60 });
}

/**
 * The one place that builds an option error, so every message has the same
 * shape: who complained, which option, what was given, what is allowed.
 */
export function optionError(where: string, code: ErrorCode, name: string, value: unknown, allowed: string): OptionError {
  const ErrorClass = ERROR_CODES[code];
  const err = new ErrorClass(`${where}: option "${name}" must be ${allowed}; got ${describeValue(value)}`) as OptionError;
  err.code = code;
  return err;
}

/** The closest known name to a mistyped one, if it is close enough to be a typo. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  // A third of the name's length catches idleTimout, maxRequest, expose_connection_id
  // without proposing unrelated names for short garbage.
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * Rejects an unknown key of an options object, naming the closest known one.
 */
export function unknownOptionError(where: string, name: string, known: readonly string[]): OptionError {
  const guess = closestName(name, known);
  const err = new TypeError(
    `${where}: unknown option "${name}"` +
      (guess ? ` (did you mean "${guess}"?)` : '') +
      `; known options are ${known.join(', ')}`,
  ) as OptionError;
  err.code = 'ERR_INVALID_ARG_VALUE';
  return err;
}
