import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net, { type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { writtenHead } from '../node-internals.js';
import { listenOnLoopback, closeStarted, urlOf } from './target.js';

/** One request as the server received it. */
export interface RecordedRequest {
  method: string;
  path: string;
  /** The server-side connection it arrived on: 1, 2, … in the order first seen. */
  connection: number;
  /** Its position on that connection, from 1. */
  ordinal: number;
  /** `performance.now()` when it arrived. */
  at: number;
  /** The response's status, once the response has finished. */
  status?: number;
  /** The `Connection` header the response went out with (whoever set it: a policy, a handler, Node), once finished. */
  connectionHeader?: string;
  /** Its `Keep-Alive` header, where it had one. */
  keepAliveHeader?: string;
}

/** What `recordConnections()` returns. */
export interface ConnectionRecorder {
  /** The server's base URL, with a trailing `/`: `http://127.0.0.1:<port>/`. */
  readonly url: string;
  /** In arrival order since the last `clear()`. */
  readonly requests: readonly RecordedRequest[];
  /** Distinct connections among `requests`. */
  readonly connections: number;
  /** Forgets what was recorded; connections already open keep their numbers. */
  clear(): void;
  /** Closes a server `recordConnections()` started; stops recording on one it did not start. */
  close(): Promise<void>;
}

/** Status and connection headers as written: from the head Node put on the wire. */
function recordResponse(entry: RecordedRequest, res: ServerResponse): void {
  entry.status = res.statusCode;
  const head = writtenHead(res);
  if (head === undefined) return;
  const field = (name: string) => {
    const values = head
      .split('\r\n')
      .slice(1)
      .filter((line) => line.slice(0, name.length + 1).toLowerCase() === `${name}:`)
      .map((line) => line.slice(name.length + 1).trim());
    return values.length === 0 ? undefined : values.join(', ');
  };
  const connection = field('connection');
  const keepAlive = field('keep-alive');
  if (connection !== undefined) entry.connectionHeader = connection;
  if (keepAlive !== undefined) entry.keepAliveHeader = keepAlive;
}

/** What can be recorded: a server (listening or not), an Express app, or a request listener. */
export type RecordTarget = http.Server | https.Server | ((req: IncomingMessage, res: ServerResponse) => void);

const recorders = new WeakSet<object>();

export function isRecorder(value: unknown): value is ConnectionRecorder {
  return typeof value === 'object' && value !== null && recorders.has(value);
}

/**
 * Records, on the server side, which connection each request arrived on, whoever
 * sent it: the way to test a *client's* connection reuse. A `'request'` listener
 * ahead of the application's only reads the request, so responses are unchanged,
 * whatever policy (or none) the server applies.
 */
export async function recordConnections(target: RecordTarget): Promise<ConnectionRecorder> {
  let server: http.Server | https.Server;
  if (target instanceof net.Server) {
    server = target;
  } else if (typeof target === 'function') {
    server = http.createServer(target);
  } else {
    throw new TypeError(
      'recordConnections(): target must be an http.Server or https.Server, an Express app, or a request listener ' +
        `(req, res) => …; got ${target === null ? 'null' : typeof target}`,
    );
  }
  const started = !server.listening;
  if (started) await listenOnLoopback(server);

  const numbers = new WeakMap<Socket, number>();
  const counts = new WeakMap<Socket, number>();
  let lastNumber = 0;
  let recorded: RecordedRequest[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    let connection = numbers.get(socket);
    if (connection === undefined) {
      connection = ++lastNumber;
      numbers.set(socket, connection);
    }
    const ordinal = (counts.get(socket) ?? 0) + 1;
    counts.set(socket, ordinal);
    const entry: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', connection, ordinal, at: performance.now() };
    recorded.push(entry);
    res.once('finish', () => recordResponse(entry, res));
  };
  server.prependListener('request', onRequest);

  const recorder: ConnectionRecorder = {
    url: urlOf(server).href,
    get requests() {
      return recorded;
    },
    get connections() {
      return new Set(recorded.map((r) => r.connection)).size;
    },
    clear() {
      recorded = [];
    },
    async close() {
      server.off('request', onRequest);
      if (started) await closeStarted(server);
    },
  };
  recorders.add(recorder);
  return recorder;
}
