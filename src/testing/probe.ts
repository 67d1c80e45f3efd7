import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { parseConnectionId } from '../connection-id.js';
import { optionError } from '../errors.js';
import { checkBoolean, checkMilliseconds, checkNumber, checkOptionsObject, given } from '../validate.js';
import { probeHttp2 } from './probe-h2.js';
import { TOKEN } from '../headers.js';
import type { ConnectionReport, ProbedRequest } from './report.js';
import { resolveTarget, type ProbeTarget } from './target.js';

/** Options of `probeConnections()` and of the assertions when they probe a target. */
export interface ProbeOptions {
  /** How many sequential requests; at least 2. @default 3 */
  requests?: number | undefined;
  /** @default 'GET' */
  method?: string | undefined;
  /** @default '/' */
  path?: string | undefined;
  /** Extra request headers. */
  headers?: Record<string, string> | undefined;
  /** A request body, sent with each request. */
  body?: string | Uint8Array | undefined;
  /** Milliseconds one request may take before the probe fails. @default 10000 */
  timeout?: number | undefined;
  /**
   * Probe over HTTP/2 (prior knowledge on `http:`, ALPN on `https:`): "reused"
   * means every request after the first went over the first request's session.
   * @default false
   */
  http2?: boolean | undefined;
}

export interface ResolvedProbeOptions {
  http2: boolean;
  requests: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
  timeout: number;
}

export const PROBE_DEFAULTS = Object.freeze({ requests: 3, method: 'GET', path: '/', timeout: 10_000 });
const NAMES = ['requests', 'method', 'path', 'headers', 'body', 'timeout', 'http2'];

export function resolveProbeOptions(where: string, options: ProbeOptions = {}): ResolvedProbeOptions {
  checkOptionsObject(where, options, NAMES);
  const requests = checkNumber(where, 'requests', given(options, 'requests', PROBE_DEFAULTS.requests), {
    integer: true,
    min: 2,
    allowed: 'an integer ≥ 2',
  });
  const method = given(options, 'method', PROBE_DEFAULTS.method);
  if (typeof method !== 'string' || !TOKEN.test(method)) {
    throw optionError(
      where,
      typeof method === 'string' ? 'ERR_INVALID_ARG_VALUE' : 'ERR_INVALID_ARG_TYPE',
      'method',
      method,
      'an HTTP method such as GET or POST',
    );
  }
  const path = given(options, 'path', PROBE_DEFAULTS.path);
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw optionError(
      where,
      typeof path === 'string' ? 'ERR_INVALID_ARG_VALUE' : 'ERR_INVALID_ARG_TYPE',
      'path',
      path,
      "a path starting with '/'",
    );
  }
  const headers = given(options, 'headers', {});
  if (typeof headers !== 'object' || headers === null || Object.values(headers).some((v) => typeof v !== 'string')) {
    throw optionError(where, 'ERR_INVALID_ARG_TYPE', 'headers', headers, 'an object of string header values');
  }
  const body = options.body;
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    throw optionError(where, 'ERR_INVALID_ARG_TYPE', 'body', body, 'a string or a Buffer');
  }
  const timeout = checkMilliseconds(where, 'timeout', given(options, 'timeout', PROBE_DEFAULTS.timeout), { min: 1 });
  const http2 = checkBoolean(where, 'http2', given(options, 'http2', false));
  return { requests, method: method.toUpperCase(), path, headers: { ...headers }, body, timeout, http2 };
}

const SERVER_ID_HEADER = 'x-connection-id';

/**
 * Sends the requests one after another (each once the previous response has ended)
 * through one keep-alive agent that may hold a single socket, and records which
 * socket object carried each one.
 */
export async function probe(target: ProbeTarget, options: ResolvedProbeOptions): Promise<ConnectionReport> {
  const resolved = await resolveTarget(target);
  if (options.http2) {
    try {
      return summarize(await probeHttp2(resolved.url, { ...resolved.headers, ...options.headers }, options));
    } finally {
      await resolved.close();
    }
  }
  const isHttps = resolved.url.protocol === 'https:';
  // One socket at a time: a second socket can then only mean the first was not reusable.
  // Test servers use self-signed certificates, so HTTPS probes do not verify them.
  const agent = isHttps
    ? new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false })
    : new http.Agent({ keepAlive: true, maxSockets: 1 });
  const socketNumbers = new Map<Socket, number>();
  const requests: ProbedRequest[] = [];
  try {
    for (let i = 0; i < options.requests; i++) {
      let result: ProbedRequest;
      try {
        result = await send(resolved.url, { ...resolved.headers, ...options.headers }, options, agent, socketNumbers, isHttps);
      } catch (err) {
        // The documented client-side answer to the keep-alive race: a request that
        // failed on a reused socket never reached the server, so it is retried once.
        if (!(err instanceof ReusedSocketError)) throw err;
        result = await send(resolved.url, { ...resolved.headers, ...options.headers }, options, agent, socketNumbers, isHttps);
        result.retried = `sock#${err.socket} was closed by the server (${err.cause.code ?? err.cause.message}); retried on a new socket`;
      }
      requests.push(result);
    }
  } finally {
    agent.destroy();
    // A socket that failed (a parse error on a non-HTTP answer, say) has left the
    // agent's pools without being destroyed; the probe closes everything it opened.
    for (const socket of socketNumbers.keys()) socket.destroy();
    await resolved.close();
  }
  return summarize(requests);
}

class ReusedSocketError extends Error {
  constructor(
    readonly socket: number,
    override readonly cause: NodeJS.ErrnoException,
  ) {
    super(cause.message);
  }
}

function send(
  url: URL,
  headers: Record<string, string>,
  options: ResolvedProbeOptions,
  agent: http.Agent,
  socketNumbers: Map<Socket, number>,
  isHttps: boolean,
): Promise<ProbedRequest> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const body = options.body;
    const allHeaders: Record<string, string | number> = { ...headers };
    if (body !== undefined) allHeaders['content-length'] = Buffer.byteLength(body);
    const requestFn = isHttps ? https.request : http.request;
    let socketNumber = 0;
    const req = requestFn(
      url,
      { method: options.method, path: options.path, agent, headers: allHeaders, timeout: options.timeout },
      (res) => {
        res.resume();
        res.once('error', reject);
        res.once('end', () => {
          const entry = entryOf(res, socketNumber, req.reusedSocket, started);
          // Let the agent take the socket back (or see the server's FIN) first.
          setImmediate(() => resolve(entry));
        });
      },
    );
    req.once('socket', (socket: Socket) => {
      let n = socketNumbers.get(socket);
      if (n === undefined) {
        n = socketNumbers.size + 1;
        socketNumbers.set(socket, n);
      }
      socketNumber = n;
    });
    req.once('timeout', () => {
      req.destroy(new Error(`probe: no response to ${options.method} ${options.path} within ${options.timeout} ms`));
    });
    req.once('error', (err: NodeJS.ErrnoException) => {
      if (req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
        reject(new ReusedSocketError(socketNumber, err));
      } else {
        reject(err);
      }
    });
    req.end(body);
  });
}

/** What one response says: status, the client's socket, and the server's connection headers. */
function entryOf(res: http.IncomingMessage, socket: number, reused: boolean, started: bigint): ProbedRequest {
  const header = (name: string) => {
    const v = res.headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  };
  const entry: ProbedRequest = {
    status: res.statusCode ?? 0,
    socket,
    reused,
    ms: Number(process.hrtime.bigint() - started) / 1e6,
  };
  const serverConnection = header(SERVER_ID_HEADER);
  const connection = header('connection');
  const keepAlive = header('keep-alive');
  if (serverConnection !== undefined) entry.serverConnection = serverConnection;
  if (connection !== undefined) entry.connection = connection;
  if (keepAlive !== undefined) entry.keepAlive = keepAlive;
  return entry;
}

function summarize(requests: ProbedRequest[]): ConnectionReport {
  const report: ConnectionReport = { requests, sockets: new Set(requests.map((r) => r.socket)).size };
  const serverIds = requests.map((r) => parseConnectionId(r.serverConnection)?.id);
  if (serverIds.every((id) => id !== undefined)) {
    report.serverConnections = new Set(serverIds).size;
    const differing = requests.flatMap((r, i) => {
      if (i === 0) return [];
      const clientSame = r.socket === requests[i - 1]!.socket;
      const serverSame = serverIds[i] === serverIds[i - 1];
      return clientSame === serverSame
        ? []
        : [`#${i + 1} ${clientSame ? 'same' : 'new'} client socket, ${serverSame ? 'same' : 'new'} server connection`];
    });
    if (differing.length > 0) report.disagreement = `${differing.join('; ')} (a proxy in between?)`;
  }
  return report;
}
