import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { Connection, ConnectionTracker } from './connections.js';
import { debug } from './debug.js';
import { isHttpSocket } from './node-internals.js';

/** `signal.reason.code` of a drain signal (docs/streaming.md). */
export const DRAIN_SIGNAL_CODE = 'CONNECTION_POLICY_DRAIN';

/** What a drain signal is aborted with: an `Error` whose `code` says it was the drain. */
export type DrainAbortReason = Error & { code: typeof DRAIN_SIGNAL_CODE };

function abortReason(): DrainAbortReason {
  const err = new Error('connection-policy: the server is draining; end this request') as DrainAbortReason;
  err.code = DRAIN_SIGNAL_CODE;
  return err;
}

/** A stream of an HTTP/2 server that uses the `'stream'` API alone (it has no request object). */
function isStream(req: Request): req is ServerHttp2Stream {
  return (req as Partial<IncomingMessage>).httpVersionMajor === undefined && 'session' in req;
}

/** The connection a request arrived on: its socket, or its HTTP/2 session. */
function connectionOf(req: Request | null | undefined): Connection | undefined {
  if (req === null || typeof req !== 'object') return undefined;
  if (isStream(req)) return (req.session as Connection | undefined) ?? undefined;
  if (req.httpVersionMajor === 2) return (req as Http2ServerRequest).stream?.session as Connection | undefined;
  return (req as Partial<IncomingMessage>).socket ?? undefined;
}

/** A request that asked for its signal and has not ended yet (on a `'stream'`-only HTTP/2 server, its stream). */
type Request = IncomingMessage | Http2ServerRequest | ServerHttp2Stream;

interface Waiting {
  readonly req: Request;
  readonly connection: Connection;
  readonly controller: AbortController;
  /** Takes the end listener off once the request ended or was aborted. */
  readonly release: () => void;
}

/**
 * `policy.drainSignal(req)`: one `AbortSignal` per request, for responses that
 * have no next response to carry `Connection: close` (server-sent events, long
 * polling) and for connections that left HTTP (a WebSocket). Nothing is done per
 * request until a handler asks; a request is forgotten when it ends (its
 * `'close'`, or its upgraded socket's `'close'`).
 *
 * The drain aborts them from the end of its `delay`: all at once, or each at a
 * moment of its own within `spread` ms, so that the clients do not all reconnect
 * to the instances left at the same instant.
 */
export class DrainSignals {
  readonly #tracker: ConnectionTracker;
  readonly #controllers = new WeakMap<Request, AbortController>();
  readonly #waiting = new Set<Waiting>();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Set when the drain reaches the requests (the end of `delay`). */
  #schedule: { readonly startedAt: number; readonly spread: number } | undefined;

  constructor(tracker: ConnectionTracker) {
    this.#tracker = tracker;
  }

  signalFor(req: Request): AbortSignal {
    const known = this.#controllers.get(req);
    if (known !== undefined) return known.signal;
    const connection = connectionOf(req);
    const state = connection === undefined ? undefined : this.#tracker.get(connection);
    if (connection === undefined || state === undefined) {
      throw new TypeError(
        'drainSignal(req): this request is not on a connection this policy tracks ' +
          '(use the middleware before the route, or attach() the server; a connection that closed is no longer tracked)',
      );
    }
    const controller = new AbortController();
    this.#controllers.set(req, controller);
    const waiting = this.#wait(req, connection, controller);
    const schedule = this.#schedule;
    // Asked during a drain: its moment is drawn now, and may already be past.
    if (schedule !== undefined) this.#abortAt(waiting, schedule.startedAt + Math.random() * schedule.spread);
    return controller.signal;
  }

  /**
   * The drain reached the requests: each is aborted at its own moment within
   * `spread` ms. The moments are stratified (one uniform draw in each of n equal
   * slices of the window), so that n streams close about `spread / n` ms apart,
   * with no burst and no gap.
   */
  start(spread: number): void {
    const startedAt = Date.now();
    this.#schedule = { startedAt, spread };
    const waiting = [...this.#waiting];
    waiting.forEach((w, i) => this.#abortAt(w, startedAt + ((i + Math.random()) / waiting.length) * spread));
  }

  /** The drain has ended: nothing is left to abort. */
  stop(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #wait(req: Request, connection: Connection, controller: AbortController): Waiting {
    // An upgraded request (asked from the 'upgrade' listener, when Node has already
    // handed the socket over) never emits 'close'; its socket does.
    const emitter: EventEmitter =
      isStream(req) || req.httpVersionMajor === 2 || isHttpSocket(connection as Socket) ? req : connection;
    const ended = () => this.#waiting.delete(waiting);
    const waiting: Waiting = { req, connection, controller, release: () => emitter.removeListener('close', ended) };
    emitter.once('close', ended);
    this.#waiting.add(waiting);
    return waiting;
  }

  #abortAt(waiting: Waiting, at: number): void {
    const wait = Math.round(at - Date.now());
    if (wait <= 0) {
      this.#abort(waiting);
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#abort(waiting);
    }, wait);
    // The sockets keep the process alive while anything is left to abort.
    timer.unref();
    this.#timers.add(timer);
  }

  #abort(waiting: Waiting): void {
    if (!this.#waiting.delete(waiting)) return;
    waiting.release();
    const state = this.#tracker.get(waiting.connection);
    // A connection that left HTTP closes for the drain from here on, whoever
    // closes it. (An HTTP one is ended by the drain after its response, and counted there.)
    if (state !== undefined && state.session === undefined && !isHttpSocket(waiting.connection as Socket)) {
      this.#tracker.markClosing(state, 'drain');
    }
    if (debug.enabled) {
      const req = waiting.req;
      debug('sock#%d drain signal aborted (%s)', state?.id ?? 0, isStream(req) ? `stream ${req.id}` : `${req.method} ${req.url}`);
    }
    waiting.controller.abort(abortReason());
  }
}
