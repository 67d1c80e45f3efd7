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
      if (given != null && mentionsConnection(given)) {
        // The listener must see (and may override) a Connection or Keep-Alive passed
        // here: move every header passed into the response first, as on-headers does.
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
  } else if (headers.length > 0 && Array.isArray(headers[0])) {
    for (const [name, value] of headers as unknown as Array<[string, string]>) res.setHeader(name, value);
  } else {
    // Repeated names in a flat list are repeated fields.
    for (let i = 0; i < headers.length; i += 2) res.removeHeader(String(headers[i]));
    for (let i = 0; i < headers.length; i += 2) res.appendHeader(String(headers[i]), headers[i + 1] as string);
  }
}
