import net from 'node:net';
import tls from 'node:tls';

/** One HTTP/1.x response as it came over the wire. */
export interface RawResponse {
  statusLine: string;
  status: number;
  /** Header names lower-cased; every occurrence kept, in order. */
  headers: Record<string, string[]>;
  body: string;
  /** `header('connection')` → the single value, or the occurrences joined with ", ". */
  header(name: string): string | undefined;
  /** How many times a header appears in the head. */
  count(name: string): number;
}

export type CloseKind = 'fin' | 'reset' | 'open';

/**
 * A hand-written HTTP/1.x client over one raw socket: it writes exact bytes and
 * reads exact bytes, so the caller sees what the server put on the wire and which
 * side closed the connection. The doctor diagnoses with it; the tests check the
 * middleware with it.
 */
export class RawClient {
  readonly socket: net.Socket;
  #buffer = Buffer.alloc(0);
  #waiters: Array<() => void> = [];
  #ended = false;
  #error: NodeJS.ErrnoException | undefined;
  #lastDataAt = Date.now();
  #closedAt: number | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#lastDataAt = Date.now();
      this.#wake();
    });
    socket.on('end', () => {
      this.#ended = true;
      this.#closedAt = Date.now();
      this.#wake();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.#error = err;
      this.#closedAt ??= Date.now();
      this.#wake();
    });
    socket.on('close', () => {
      this.#closedAt ??= Date.now();
      this.#wake();
    });
  }

  static connect(port: number, host = '127.0.0.1', { secure = false } = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      // No Nagle on our side: what is measured is the server's behaviour.
      const socket = secure
        ? tls.connect({ port, host, rejectUnauthorized: false, ...(net.isIP(host) ? {} : { servername: host }) })
        : net.connect({ port, host, noDelay: true });
      socket.setNoDelay(true);
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Connects, writes `payload`, and returns the client. */
  static async send(port: number, payload: string): Promise<RawClient> {
    const client = await RawClient.connect(port);
    client.write(payload);
    return client;
  }

  write(payload: string): void {
    this.socket.write(payload);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #wait(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** The next complete response; `head: true` for a response to HEAD (no body). */
  async response({ head = false, timeoutMs = 3000 } = {}): Promise<RawResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = parseResponse(this.#buffer, head, this.#ended);
      if (parsed) {
        this.#buffer = this.#buffer.subarray(parsed.length);
        return parsed.response;
      }
      if (this.#ended || this.#error || this.#closedAt !== undefined) {
        throw new Error(
          `connection closed (${this.#error?.code ?? 'FIN'}) before a complete response; got ${JSON.stringify(this.#buffer.toString('latin1'))}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0 || !(await this.#wait(left))) {
        throw new Error(`no complete response within ${timeoutMs} ms; got ${JSON.stringify(this.#buffer.toString('latin1'))}`);
      }
    }
  }

  /**
   * Waits up to `timeoutMs` for the server to close: `'fin'` (an orderly end),
   * `'reset'` (ECONNRESET), or `'open'`. `afterMs` counts from the last byte received.
   */
  async closed(timeoutMs: number): Promise<{ kind: CloseKind; afterMs: number }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#ended && !this.#error && this.#closedAt === undefined) {
      const left = deadline - Date.now();
      if (left <= 0 || !(await this.#wait(left))) break;
    }
    const afterMs = (this.#closedAt ?? Date.now()) - this.#lastDataAt;
    if (this.#error?.code === 'ECONNRESET') return { kind: 'reset', afterMs };
    if (this.#ended || this.#closedAt !== undefined) return { kind: 'fin', afterMs };
    return { kind: 'open', afterMs };
  }

  /** Bytes received but not consumed as a response. */
  get rest(): string {
    return this.#buffer.toString('latin1');
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function makeResponse(statusLine: string, headers: Record<string, string[]>, body: string): RawResponse {
  return {
    statusLine,
    status: Number(statusLine.split(' ')[1]),
    headers,
    body,
    header: (name) => headers[name.toLowerCase()]?.join(', '),
    count: (name) => headers[name.toLowerCase()]?.length ?? 0,
  };
}

/** Parses one response from the front of `buf`, or returns undefined if incomplete. */
function parseResponse(buf: Buffer, head: boolean, ended: boolean): { response: RawResponse; length: number } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const statusLine = lines.shift()!;
  const headers: Record<string, string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    (headers[name] ??= []).push(line.slice(colon + 1).trim());
  }
  const status = Number(statusLine.split(' ')[1]);
  let offset = end + 4;
  if (head || status === 204 || status === 304 || (status >= 100 && status < 200)) {
    return { response: makeResponse(statusLine, headers, ''), length: offset };
  }
  const contentLength = headers['content-length']?.[0];
  if (contentLength !== undefined) {
    const n = Number(contentLength);
    if (buf.length < offset + n) return undefined;
    return {
      response: makeResponse(statusLine, headers, buf.subarray(offset, offset + n).toString('latin1')),
      length: offset + n,
    };
  }
  if (headers['transfer-encoding']?.some((v) => v.toLowerCase().includes('chunked'))) {
    let body = '';
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', offset);
      if (lineEnd === -1) return undefined;
      const size = parseInt(buf.subarray(offset, lineEnd).toString('latin1'), 16);
      const dataStart = lineEnd + 2;
      if (size === 0) {
        const trailerEnd = endOfTrailers(buf, dataStart);
        if (trailerEnd === undefined) return undefined;
        return { response: makeResponse(statusLine, headers, body), length: trailerEnd };
      }
      if (buf.length < dataStart + size + 2) return undefined;
      body += buf.subarray(dataStart, dataStart + size).toString('latin1');
      offset = dataStart + size + 2;
    }
  }
  // Delimited by the close of the connection (RFC 9112 §6.3, item 8).
  if (!ended) return undefined;
  return { response: makeResponse(statusLine, headers, buf.subarray(offset).toString('latin1')), length: buf.length };
}

/**
 * RFC 9112 §7.1: after the last chunk comes the trailer section, field lines
 * each ended by CRLF, then an empty line. Returns the offset just past that
 * empty line, or undefined if it has not arrived yet. (Trailer fields are not
 * kept: a recipient may discard them, RFC 9112 §7.1.2.)
 */
function endOfTrailers(buf: Buffer, start: number): number | undefined {
  let offset = start;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', offset);
    if (lineEnd === -1) return undefined;
    if (lineEnd === offset) return lineEnd + 2;
    offset = lineEnd + 2;
  }
}

/** `GET / HTTP/1.1` with the given extra header lines. */
export function get(path = '/', ...headerLines: string[]): string {
  return request('GET', path, 'HTTP/1.1', headerLines);
}

export function request(method: string, path: string, version: string, headerLines: string[] = [], host = '127.0.0.1'): string {
  const hostLine = version === 'HTTP/1.0' || headerLines.some((l) => /^host:/i.test(l)) ? [] : [`Host: ${host}`];
  return [`${method} ${path} ${version}`, ...hostLine, ...headerLines, '', ''].join('\r\n');
}
