import type { IncomingMessage } from 'node:http';
import {
  constants,
  type IncomingHttpHeaders,
  type Http2SecureServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { Server as NetServer, type Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { decisionChannel, type DecisionMessage } from './channels.js';
import { formatConnectionId } from './connection-id.js';
import type { ConnectionState } from './connections.js';
import type { PolicyCore } from './core.js';
import { debug } from './debug.js';
import { decideAtArrival, type ArrivalInput, type Decision } from './decide.js';
import type { Transport } from './http1.js';
import { setConnectionInfo, type ConnectionInfo } from './info.js';
import type { PolicyFunction } from './options.js';
import { askPolicyFunction } from './policy-function.js';
import { openStreamCount, watchSessions } from './node-internals.js';
import type { CloseReason } from './stats.js';

export type AnyHttp2Server = Http2Server | Http2SecureServer;

/**
 * What a policy function is asked with on a server that uses the `'stream'` API
 * alone (there is no request object): the fields a function reads of a request —
 * `method`, `url`, `headers`, the HTTP version — and the `stream` itself.
 */
export interface StreamRequestView {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly httpVersion: '2.0';
  readonly httpVersionMajor: 2;
  readonly httpVersionMinor: 0;
  readonly stream: ServerHttp2Stream;
}

function requestView(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): IncomingMessage {
  const view: StreamRequestView = {
    method: headers[':method'],
    url: headers[':path'],
    headers,
    httpVersion: '2.0',
    httpVersionMajor: 2,
    httpVersionMinor: 0,
    stream,
  };
  return view as unknown as IncomingMessage;
}

/** `http2.createServer()` / `createSecureServer()`: the only servers with `updateSettings()`. */
export function isHttp2Server(server: unknown): server is AnyHttp2Server {
  return server instanceof NetServer && typeof (server as { updateSettings?: unknown }).updateSettings === 'function';
}

/** The largest stream id: a GOAWAY naming it refuses nothing yet (RFC 9113 §6.8). */
const LAST_POSSIBLE_STREAM = 2 ** 31 - 1;
/** `idleTimeout` is checked this many times per period (#watchIdle). */
const IDLE_CHECKS = 10;
/** The drain's second GOAWAY goes out on the PING's ACK, or this long after the PING. */
const PING_WAIT_MS = 1000;

/**
 * The policy for HTTP/2 sessions (SPEC §5): a session is a connection, its
 * streams are its requests, and where HTTP/1.1 would answer `Connection: close`
 * the session gets a GOAWAY (`NO_ERROR`, RFC 9113 §6.8) and is closed once the
 * streams up to the one named have finished. The rules are decide.ts's, with
 * the inputs HTTP/2 has (no `Connection` header, no HTTP/1.0); no `Connection`
 * or `Keep-Alive` header is ever set (RFC 9113 §8.2.2).
 *
 * Node 20–26 processes no new stream after any `session.goaway()`, so a GOAWAY
 * is final: the streams a client opens after it are not served, and the client
 * treats them as refused and retries them.
 */
export class Http2Sessions {
  readonly #core: PolicyCore;
  /**
   * The stream the server's 'stream' event is being emitted for, with its ordinal
   * and decision: the compatibility API turns it into a 'request' within that same
   * emission, and onRequest() takes it from here (no per-stream map).
   */
  #current: { stream: ServerHttp2Stream; state: ConnectionState; requests: number; verdict: Decision | undefined } | undefined;
  readonly transport: Transport<ServerHttp2Session>;

  constructor(core: PolicyCore) {
    this.#core = core;
    this.transport = {
      busy: (session) => openStreamCount(session) > 0,
      upgraded: () => false,
      // Streams in flight: the two-phase GOAWAY goes out now, and they finish.
      headSent: (session) => openStreamCount(session) > 0,
      endAfterInFlight: (session, ending) => this.#shutdown(session, ending),
      closeIdle: (session, closing) => this.#shutdown(session, closing),
      destroy: (session) => session.destroy(),
    };
  }

  /**
   * Tracks the sessions of an HTTP/2 server. `onHttp1` gets the HTTP/1.1
   * connections of an `allowHTTP1` server, which get the HTTP/1.1 policy.
   */
  adopt(server: AnyHttp2Server, onHttp1: (socket: Socket) => void): void {
    watchSessions(server, server instanceof TlsServer, onHttp1, (session, socket) => this.#onSession(session, socket));
    // The server's 'stream', ahead of the compatibility API's listener (which turns
    // a stream into a 'request'): each stream is counted and decided before any
    // handler sees it.
    server.prependListener('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      const session = stream.session as ServerHttp2Session | undefined;
      const state = session === undefined ? undefined : this.#core.tracker.get(session);
      // Whether the compatibility API will turn this stream into a 'request' (it is
      // on once anything listens for 'request'; admission.ts adds ours only then).
      const compat = server.listenerCount('request') > 0;
      if (state?.session !== undefined) this.#onStream(session!, state, stream, compat ? undefined : headers);
    });
  }

  #onSession(session: ServerHttp2Session, socket: Socket | undefined): void {
    const tracker = this.#core.tracker;
    if (tracker.get(session) !== undefined) return;
    const state = tracker.trackSession(session, socket);
    const s = state.session!;
    session.on('error', () => (s.errored = true));
    session.once('close', () => {
      clearTimeout(s.idleTimer);
      clearTimeout(s.ageTimer);
    });
    this.#watchIdle(session, state);
    if (state.ageLimit !== Infinity) {
      // gRPC's MAX_CONNECTION_AGE: at its age the session ends, idle or not.
      s.ageTimer = setTimeout(() => {
        this.#goaway(session, state, s.lastStreamId, 'maxAge', `maxAge reached (limit ${Math.round(state.ageLimit)} ms)`);
      }, state.ageLimit).unref();
    }
  }

  /**
   * `idleTimeout`: a GOAWAY once no stream has been open for that long, without
   * a listener or timer work per stream. A check every tenth of `idleTimeout`
   * counts the checks in a row that found no stream open and none arrived since
   * the one before. The last stream closed before the first such check, so the
   * eleventh in a row is at least `idleTimeout` after it, and at most about 1.1 ×
   * `idleTimeout` (the session's start counts as the first).
   */
  #watchIdle(session: ServerHttp2Session, state: ConnectionState): void {
    const idleTimeout = this.#core.options.idleTimeout;
    const s = state.session!;
    let seen = state.requests;
    let quiet = 1;
    s.idleTimer = setInterval(() => {
      if (state.requests !== seen || openStreamCount(session) > 0) {
        seen = state.requests;
        quiet = 0;
      } else if (++quiet > IDLE_CHECKS) {
        this.#goaway(session, state, s.lastStreamId, 'idleTimeout', `idle for ${idleTimeout} ms (idleTimeout)`);
      }
    }, idleTimeout / IDLE_CHECKS).unref();
  }

  /**
   * A stream arrives. `headers` only on a server that uses the `'stream'` API
   * alone: no `'request'` will follow, so the stream is decided and reported here
   * (`connectionInfo(stream)`; a policy function is asked with a request view).
   */
  #onStream(
    session: ServerHttp2Session,
    state: ConnectionState,
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders | undefined,
  ): void {
    const s = state.session!;
    if (s.goawaySent) {
      // Above the last stream a GOAWAY named: not processed; the client retries it (RFC 9113 §6.8).
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    // A stream the server was handed has its id (only a client's pending one has none).
    const id = stream.id!;
    if (id > s.lastStreamId) s.lastStreamId = id;
    this.#core.tracker.countRequest(state);
    const requests = state.requests;
    const decided = decideAtArrival(this.#input(state, requests, this.#core.fixedAnswer));
    // A function is asked with the request: in onRequest(), or here with a view of the stream's.
    const verdict = 'askPolicy' in decided ? undefined : decided;
    if (verdict !== undefined) this.#apply(session, state, stream, verdict);
    if (headers === undefined) {
      this.#current = { stream, state, requests, verdict };
      return;
    }
    const info = this.#info(state, requests);
    setConnectionInfo(stream, info);
    this.#report(stream, stream, state, info, verdict, () => requestView(stream, headers));
  }

  #info(state: ConnectionState, requests: number): ConnectionInfo {
    return { id: state.id, requests, reused: requests > 1, openedAt: state.openedAt };
  }

  /**
   * The compatibility API's request (`'request'`, ahead of the application): its
   * `ConnectionInfo`, the connection id header, a policy function's answer, and
   * the decision channel.
   */
  onRequest(req: Http2ServerRequest, res: Http2ServerResponse): void {
    const stream = req.stream;
    const current = this.#current;
    this.#current = undefined;
    // Refused above a GOAWAY's last stream, or a session the policy does not track.
    if (current === undefined || current.stream !== stream) return;
    const { state, requests } = current;
    const info = this.#info(state, requests);
    setConnectionInfo(req, info);
    const header = this.#core.options.exposeConnectionId;
    if (header !== false) res.setHeader(header, formatConnectionId(state.id, requests));
    this.#report(req, res, state, info, current.verdict, () => req as unknown as IncomingMessage);
  }

  /** A policy function's answer where none was known at arrival, then the decision channel. */
  #report(
    request: DecisionMessage['request'],
    response: DecisionMessage['response'],
    state: ConnectionState,
    info: ConnectionInfo,
    known: Decision | undefined,
    askWith: () => IncomingMessage,
  ): void {
    let verdict = known;
    if (verdict === undefined) {
      const fn = this.#core.options.policy as PolicyFunction;
      const asked = askPolicyFunction(fn, askWith(), info);
      verdict = decideAtArrival({ ...this.#input(state, info.requests, asked.answer), policySource: asked.source }) as Decision;
      const stream = 'stream' in request ? request.stream : (request as ServerHttp2Stream);
      this.#apply(stream.session as ServerHttp2Session, state, stream, verdict);
    }
    if (decisionChannel.hasSubscribers) {
      const message: DecisionMessage = { request, response, info, keepAlive: verdict.keepAlive, reason: verdict.reason };
      decisionChannel.publish(message);
    }
  }

  #input(state: ConnectionState, requests: number, policyAnswer: ArrivalInput['policyAnswer']): ArrivalInput {
    const core = this.#core;
    return {
      requestConnection: undefined,
      http10: false,
      draining: core.draining,
      policyAnswer,
      policySource: core.policySource,
      requests,
      maxRequests: core.options.maxRequests,
      age: state.ageLimit === Infinity ? 0 : Date.now() - state.openedAt,
      ageLimit: state.ageLimit,
    };
  }

  #apply(session: ServerHttp2Session, state: ConnectionState, stream: ServerHttp2Stream, verdict: Decision): void {
    if (verdict.keepAlive) {
      if (debug.enabled) debug('sock#%d stream %d (req#%d) keep-alive: %s', state.id, stream.id, state.requests, verdict.reason);
      return;
    }
    this.#goaway(session, state, stream.id!, verdict.closedBy, verdict.reason);
  }

  /** A GOAWAY naming `lastStreamId`; the session closes once the streams up to it have finished. */
  #goaway(session: ServerHttp2Session, state: ConnectionState, lastStreamId: number, reason: CloseReason, why: string): void {
    const s = state.session!;
    if (s.goawaySent || session.closed || session.destroyed) return;
    this.#core.tracker.markClosing(state, reason);
    s.goawaySent = true;
    clearTimeout(s.idleTimer);
    clearTimeout(s.ageTimer);
    if (debug.enabled) debug('sock#%d GOAWAY, last stream %d: %s', state.id, lastStreamId, why);
    session.goaway(constants.NGHTTP2_NO_ERROR, lastStreamId);
    session.close();
  }

  /**
   * The drain's two-phase GOAWAY (RFC 9113 §6.8): one naming the largest stream id
   * and a PING; on the PING's ACK, or a second later, one naming the last stream
   * processed. Streams in flight finish; the session closes after them.
   */
  #shutdown(session: ServerHttp2Session, closing: () => void): void {
    const state = this.#core.tracker.get(session);
    const s = state?.session;
    if (state === undefined || s === undefined || s.goawaySent || session.closed || session.destroyed) return;
    closing();
    s.goawaySent = true;
    clearTimeout(s.idleTimer);
    clearTimeout(s.ageTimer);
    if (debug.enabled) debug('sock#%d drain: GOAWAY %d and PING', state.id, LAST_POSSIBLE_STREAM);
    session.goaway(constants.NGHTTP2_NO_ERROR, LAST_POSSIBLE_STREAM);
    let sent = false;
    const second = () => {
      if (sent) return;
      sent = true;
      clearTimeout(timer);
      if (session.closed || session.destroyed) return;
      if (debug.enabled) debug('sock#%d drain: GOAWAY, last stream %d', state.id, s.lastStreamId);
      session.goaway(constants.NGHTTP2_NO_ERROR, s.lastStreamId);
      session.close();
    };
    // node:http2 (nghttp2) stops reading once a GOAWAY is out and no stream is
    // open, so an idle session's ACK is never read: there the timer sends it. Not
    // unref'd: a socket nobody reads from no longer keeps the process alive, and
    // the session must still be closed.
    const timer = setTimeout(second, PING_WAIT_MS);
    // Too many PINGs outstanding already (false): the timer sends the second GOAWAY.
    session.ping(() => second());
  }
}
