/**
 * Field parsing for the `Connection` header (RFC 9110 §7.6.1): a comma-separated
 * list of case-insensitive tokens. Node joins repeated `Connection` headers with
 * ", ", and a handler may set an array, so both shapes are accepted.
 */
/** RFC 9110 §5.6.2 token: a method, a header field name. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export type HeaderValue = string | number | readonly string[] | undefined;

/** True when `token` (lower-case) is one of the list's members. */
export function hasToken(value: HeaderValue, token: string): boolean {
  if (value === undefined) return false;
  if (typeof value === 'number') return false;
  if (typeof value !== 'string') return value.some((v) => hasToken(v, token));
  // Fast paths for the one-member header nearly every client sends (`close`,
  // `keep-alive`): no split into an array and a string per member (bench/rules.ts).
  if (value.length === token.length) return value.toLowerCase() === token;
  if (!value.includes(',')) {
    const member = value.trim();
    return member.length === token.length && member.toLowerCase() === token;
  }
  for (const member of value.split(',')) {
    if (member.trim().toLowerCase() === token) return true;
  }
  return false;
}

/**
 * The `Keep-Alive` header value (a de-facto header from RFC 2068 §19.7.1, not part
 * of RFC 9112): `timeout` in seconds, and `max` when a request limit applies.
 */
export function keepAliveValue(timeoutSeconds: number, requestsLeft: number): string {
  return Number.isFinite(requestsLeft) ? `timeout=${timeoutSeconds}, max=${requestsLeft}` : `timeout=${timeoutSeconds}`;
}
