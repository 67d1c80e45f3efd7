import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import onHeaders from 'on-headers';

/** Called once, just before the response head is built; `this` is the response. */
export type HeadListener = (this: ServerResponse) => void;

type WriteHead = (this: ServerResponse, statusCode: number, reason?: unknown, headers?: unknown) => ServerResponse;
type HeaderList = OutgoingHttpHeaders | ReadonlyArray<string | number | readonly string[]> | undefined;

/**
 * Runs `listener` just before `res` builds its head, every send path included
 * (`res.end()` and `res.write()` build it through `res.writeHead` too).
 *
 * `on-headers` does this by wrapping `res.writeHead` in a new closure per response
 * that copies its arguments and sets `statusCode` first. A response nothing has
 * wrapped yet gets one function shared by all responses instead, made once per
 * listener by `headHook()`, which calls the `writeHead` of the response's
 * prototype: no allocation, and no write to the response but the hook itself
 * (which matters under Express, where every response has a prototype of its own
 * and each property write takes a slow path). A response someone else has
 * wrapped already is left to `on-headers`, which chains to that wrapper.
 */
export function headHook(listener: HeadListener): (res: ServerResponse) => void {
  function writeHead(this: ServerResponse, statusCode: number, reason?: unknown, headers?: unknown): ServerResponse {
    const original = (Object.getPrototypeOf(this) as { writeHead: WriteHead }).writeHead;
    if (!this.headersSent) {
      const given = (typeof reason === 'string' ? headers : reason) as HeaderList;
      // One comparison for the usual call, writeHead(status) from res.end(): nothing passed.
      // Moved into the response first: headers that mention Connection or Keep-Alive
      // (the listener must see, and may override, them, as with on-headers), and
      // every list. Once the listener has set a field, Node's writeHead merges what
      // it is passed with setHeader() (20–26): a list's repeated names would collapse
      // to the last, and `[[name, value], …]` throws ERR_INVALID_ARG_VALUE there.
      if (given != null && (Array.isArray(given) || mentionsConnection(given))) {
        moveHeaders(this, given);
        if (this.statusCode !== statusCode) this.statusCode = statusCode;
        listener.call(this);
        return typeof reason === 'string' ? original.call(this, this.statusCode, reason) : original.call(this, this.statusCode);
      }
      // The listener reads the status the head will carry (a write only where it changes).
      if (this.statusCode !== statusCode) this.statusCode = statusCode;
      listener.call(this);
    }
    return original.call(this, this.statusCode, reason, headers);
  }
  return (res) => {
    if (Object.hasOwn(res, 'writeHead')) onHeaders(res, listener);
    else (res as { writeHead: WriteHead }).writeHead = writeHead;
  };
}

/** `connection` and `keep-alive` are both 10 characters long: a cheap first test. */
function isConnectionField(name: unknown): boolean {
  if (typeof name !== 'string' || name.length !== 10) return false;
  const lower = name.toLowerCase();
  return lower === 'connection' || lower === 'keep-alive';
}

function mentionsConnection(headers: NonNullable<HeaderList>): boolean {
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0]))
      return headers.some((entry) => isConnectionField((entry as unknown[])[0]));
    for (let i = 0; i < headers.length; i += 2) if (isConnectionField(headers[i])) return true;
    return false;
  }
  // for…in, not Object.keys(): no array per response (ReadonlyArray is not narrowed by isArray).
  for (const name in headers as OutgoingHttpHeaders) if (isConnectionField(name)) return true;
  return false;
}

/** The three shapes `writeHead` takes: an object, `[[name, value], …]`, `[name, value, …]`. */
function moveHeaders(res: ServerResponse, headers: NonNullable<HeaderList>): void {
  if (!Array.isArray(headers)) {
    // An undefined value throws in setHeader, as it does in Node's own writeHead.
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value as string);
  } else {
    // Repeated names in a list are repeated fields, as Node writes a list it is given alone.
    const pairs = headers.length > 0 && Array.isArray(headers[0]);
    const step = pairs ? 1 : 2;
    const nameAt = (i: number) => String(pairs ? (headers[i] as unknown[])[0] : headers[i]);
    const valueAt = (i: number) => (pairs ? (headers[i] as unknown[])[1] : headers[i + 1]) as string;
    for (let i = 0; i < headers.length; i += step) res.removeHeader(nameAt(i));
    for (let i = 0; i < headers.length; i += step) res.appendHeader(nameAt(i), valueAt(i));
  }
}
