import type { Server as NetServer } from 'node:net';
import type { Connection, ConnectionTracker } from './connections.js';
import { debug } from './debug.js';
import type { DrainSignals } from './drain-signal.js';
import { optionError } from './errors.js';
import type { Transport } from './http1.js';
import { isHttp2Server } from './http2.js';
import { stopAccepting } from './node-internals.js';
import type { DrainResult } from './stats.js';
import { checkMilliseconds, checkOptionsObject, given } from './validate.js';

/** Options of `policy.drain()`, all optional, validated at the call (durations in ms). */
export interface DrainOptions {
  /**
   * Milliseconds to wait for connections to close by themselves before destroying
   * what is left. `Infinity` waits for ever.
   * @default 10000
   */
  timeout?: number | undefined;
  /**
   * The announce phase: from the call, `policy.draining` is true, readiness answers
   * 503 and every response closes its connection, but attached servers keep
   * accepting and serving for this many milliseconds (while load balancers and
   * Kubernetes take the instance out of rotation); only then does the drain run.
   * `timeout` counts from the end of the delay.
   * @default 0
   */
  delay?: number | undefined;
  /**
   * Milliseconds to keep idle keep-alive connections open after the drain starts:
   * a request arriving on one meanwhile is answered with `Connection: close`, so a
   * proxy's busy connection pool drains without ever sending on a connection the
   * server is closing. 0 ends idle connections at once.
   * @default 0
   */
  idleGrace?: number | undefined;
  /**
   * Milliseconds over which the drain signals (`policy.drainSignal(req)`) are
   * aborted, from the end of `delay`, each request at a moment of its own, so that
   * streaming clients reconnect a few at a time. At most `timeout`.
   * @default 0
   */
  spread?: number | undefined;
}

export const DRAIN_DEFAULTS = Object.freeze({ timeout: 10_000, delay: 0, idleGrace: 0, spread: 0 });
const NAMES = Object.keys(DRAIN_DEFAULTS);

export type ResolvedDrainOptions = { readonly [K in keyof typeof DRAIN_DEFAULTS]: number };

/**
 * Integers in ms from 0 to 2147483647 (`timeout` also `Infinity`), and `spread` at
 * most a finite `timeout`, checked at the call (docs/shutdown.md, "Graceful shutdown").
 */
export function resolveDrainOptions(input?: DrainOptions): ResolvedDrainOptions {
  const where = 'drain()';
  const options = checkOptionsObject(where, input, NAMES);
  const timeout = checkMilliseconds(where, 'timeout', given(options, 'timeout', DRAIN_DEFAULTS.timeout), {
    min: 0,
    infinity: true,
  });
  const spread = checkMilliseconds(where, 'spread', given(options, 'spread', DRAIN_DEFAULTS.spread), { min: 0 });
  if (spread > timeout) {
    // Signals aborted after the deadline would find their connections destroyed.
    throw optionError(where, 'ERR_OUT_OF_RANGE', 'spread', spread, `at most timeout (${timeout} ms)`);
  }
  return Object.freeze({
    timeout,
    delay: checkMilliseconds(where, 'delay', given(options, 'delay', DRAIN_DEFAULTS.delay), { min: 0 }),
    idleGrace: checkMilliseconds(where, 'idleGrace', given(options, 'idleGrace', DRAIN_DEFAULTS.idleGrace), { min: 0 }),
    spread,
  });
}

/** What a drain works on: one policy's connections, servers and drain signals, and each connection's transport. */
export interface DrainContext {
  readonly tracker: ConnectionTracker;
  readonly servers: Iterable<NetServer>;
  readonly signals: DrainSignals;
  readonly transportOf: (connection: Connection) => Transport<Connection>;
}

/**
 * Graceful shutdown, once the policy says every response closes (`draining`).
 * After `delay` (the announce phase, during which attached servers keep
 * accepting): abort the drain signals (spread over `spread`), stop accepting,
 * end idle connections, let busy ones close after their last response, destroy
 * the rest at the deadline. Resolves once no tracked connection is left.
 */
export function runDrain(context: DrainContext, options: ResolvedDrainOptions): Promise<DrainResult> {
  return new Promise((resolve) => new Drain(context, options, resolve).start());
}

class Drain {
  readonly #tracker: ConnectionTracker;
  readonly #context: DrainContext;
  readonly #options: ResolvedDrainOptions;
  readonly #resolve: (result: DrainResult) => void;
  readonly #timers: NodeJS.Timeout[] = [];
  /** Destroyed at the deadline: counted `destroyed`, not `graceful`. */
  readonly #forced = new WeakSet<Connection>();
  readonly #result: DrainResult = { graceful: 0, destroyed: 0 };
  /** Past the announce phase: the drain may end once nothing is left. */
  #running = false;
  #finished = false;

  constructor(context: DrainContext, options: ResolvedDrainOptions, resolve: (result: DrainResult) => void) {
    this.#context = context;
    this.#tracker = context.tracker;
    this.#options = options;
    this.#resolve = resolve;
  }

  start(): void {
    // Connections that close during the announce phase (their responses already
    // say `Connection: close`) count as graceful too.
    this.#tracker.onRelease((connection) => {
      if (this.#forced.has(connection)) this.#result.destroyed++;
      else this.#result.graceful++;
      if (this.#running && this.#tracker.openCount === 0) this.#done();
    });
    const delay = this.#options.delay;
    if (delay > 0) this.#timers.push(setTimeout(() => this.#run(), delay));
    else this.#run();
  }

  #run(): void {
    const { timeout, idleGrace, spread } = this.#options;
    const { transportOf, servers } = this.#context;
    this.#running = true;
    if (debug.enabled) debug('drain: %d connection(s) open, timeout %d ms', this.#tracker.openCount, timeout);
    // A response whose head already went out as keep-alive: its connection is
    // ended after the last response in flight on it.
    for (const connection of this.#tracker.openConnections()) {
      const transport = transportOf(connection);
      if (transport.headSent(connection)) transport.endAfterInFlight(connection, () => this.#closing(connection));
    }
    if (idleGrace > 0) {
      // Stop accepting now, without Node's immediate idle sweep.
      for (const server of servers) stopAccepting(server);
      this.#timers.push(unref(setTimeout(() => this.#closeIdle(), idleGrace)));
    } else {
      this.#closeIdle();
    }
    // Long-lived requests (streams, WebSockets) learn of the drain from their
    // signal. After the sweep above: a handler that ends its response at once
    // must not have it taken for idle by Node's `closeIdleConnections()`, which
    // skips only connections whose response has not been ended (`finished`), 20–26.
    this.#context.signals.start(spread);
    // A drain must not keep the process alive by itself; open sockets do that.
    if (timeout !== Infinity && !this.#finished) this.#timers.push(unref(setTimeout(() => this.#destroyAll(), timeout)));
    if (this.#tracker.openCount === 0) this.#done();
  }

  /** Counted as closed by the drain, whatever closes it from here on. */
  #closing(connection: Connection): void {
    const state = this.#tracker.get(connection);
    if (state !== undefined) this.#tracker.markClosing(state, 'drain');
  }

  /**
   * Idle connections are counted as 'drain' before Node's own close() reaches
   * them. An idle socket has nothing unread, so destroying it sends a FIN; a
   * request the client sends at this very moment is refused with a reset before
   * any handler sees it, which a client may safely retry, but a proxy will not
   * retry a POST: hence `idleGrace`.
   */
  #closeIdle(): void {
    const { transportOf, servers } = this.#context;
    for (const connection of this.#tracker.openConnections()) {
      const transport = transportOf(connection);
      // An upgraded connection (WebSocket) is its 'upgrade' listener's to close:
      // waited for like a response in flight.
      if (transport.busy(connection) || transport.upgraded(connection)) continue;
      transport.closeIdle(connection, () => this.#closing(connection));
    }
    // Node's own close: stops accepting, sweeps its idle connections, clears its
    // timers. Not an HTTP/2 server's: on 24 and later it sends every session a
    // GOAWAY naming its last stream at once (`closeAllSessions()`), which would
    // overtake the two-phase GOAWAY (SPEC §5); on 20 and 22 it only stops accepting.
    for (const server of servers) {
      if (isHttp2Server(server)) stopAccepting(server);
      else server.close();
    }
  }

  /** The deadline: whatever is left is destroyed. */
  #destroyAll(): void {
    for (const connection of this.#tracker.openConnections()) {
      this.#closing(connection);
      this.#forced.add(connection);
      this.#context.transportOf(connection).destroy(connection);
    }
  }

  #done(): void {
    if (this.#finished) return;
    this.#finished = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#context.signals.stop();
    if (debug.enabled) debug('drain: done, %d graceful, %d destroyed', this.#result.graceful, this.#result.destroyed);
    this.#resolve(this.#result);
  }
}

function unref(timer: NodeJS.Timeout): NodeJS.Timeout {
  timer.unref();
  return timer;
}
