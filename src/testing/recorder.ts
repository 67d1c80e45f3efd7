import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Http2SecureServer, Http2Server, IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { isHttp2Server } from '../http2.js';
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

/** What can be recorded: a server (listening or not; HTTP/2 too), an Express app, or a request listener. */
export type RecordTarget =
  http.Server | https.Server | Http2Server | Http2SecureServer | ((req: IncomingMessage, res: ServerResponse) => void);

const recorders = new WeakSet<object>();

export function isRecorder(value: unknown): value is ConnectionRecorder {
  // WeakSet#has answers false for a primitive (ECMA-262 §24.4.3.4): no type test first.
  return recorders.has(value as object);
}

/** The requests recorded so far, numbered by connection (a socket, or an HTTP/2 session). */
class Recording {
  readonly #numbers = new WeakMap<object, number>();
  readonly #counts = new WeakMap<object, number>();
  #lastNumber = 0;
  requests: RecordedRequest[] = [];

  record(connection: object, method: string, path: string): RecordedRequest {
    let number = this.#numbers.get(connection);
    if (number === undefined) {
      number = ++this.#lastNumber;
      this.#numbers.set(connection, number);
    }
    const ordinal = (this.#counts.get(connection) ?? 0) + 1;
    this.#counts.set(connection, ordinal);
    const entry: RecordedRequest = { method, path, connection: number, ordinal, at: performance.now() };
    this.requests.push(entry);
    return entry;
  }
}

/**
 * Listens to `server` ahead of the application, reading only; returns what stops
 * it. An HTTP/2 server's streams are recorded from `'stream'` (a `'request'`
 * listener would switch its compatibility API on), a session being a connection.
 */
function listen(server: net.Server, recording: Recording): { stop(): void; destroySessions(): void } {
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const entry = recording.record(req.socket, req.method ?? '', req.url ?? '');
    res.once('finish', () => recordResponse(entry, res));
  };
  const sessions = new Set<ServerHttp2Session>();
  const onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const entry = recording.record(stream.session!, String(headers[':method'] ?? ''), String(headers[':path'] ?? ''));
    stream.once('close', () => {
      // A stream reset before its response never sent headers: `sentHeaders` is undefined then (Node 20.20).
      const status = (stream.sentHeaders as IncomingHttpHeaders | undefined)?.[':status'];
      if (status !== undefined) entry.status = Number(status);
    });
  };
  const onSession = (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  };
  if (isHttp2Server(server)) {
    server.prependListener('stream', onStream);
    server.on('session', onSession);
  } else {
    server.prependListener('request', onRequest);
  }
  return {
    stop() {
      server.off('request', onRequest);
      server.off('stream', onStream);
      server.off('session', onSession);
    },
    destroySessions() {
      for (const session of sessions) session.destroy();
    },
  };
}

/**
 * Records, on the server side, which connection each request arrived on, whoever
 * sent it: the way to test a *client's* connection reuse. A listener ahead of the
 * application's only reads the request, so responses are unchanged, whatever
 * policy (or none) the server applies.
 */
export async function recordConnections(target: RecordTarget): Promise<ConnectionRecorder> {
  let server: net.Server;
  if (target instanceof net.Server) {
    server = target;
  } else if (typeof target === 'function') {
    server = http.createServer(target);
  } else {
    throw new TypeError(
      'recordConnections(): target must be an http.Server, https.Server or http2 server, an Express app, or a request listener ' +
        `(req, res) => …; got ${target === null ? 'null' : typeof target}`,
    );
  }
  const started = !server.listening;
  if (started) await listenOnLoopback(server);
  const recording = new Recording();
  const listening = listen(server, recording);
  const recorder: ConnectionRecorder = {
    url: urlOf(server).href,
    get requests() {
      return recording.requests;
    },
    get connections() {
      return new Set(recording.requests.map((r) => r.connection)).size;
    },
    clear() {
      recording.requests = [];
    },
    async close() {
      listening.stop();
      if (started) {
        listening.destroySessions();
        await closeStarted(server);
      }
    },
  };
  recorders.add(recorder);
  return recorder;
}
