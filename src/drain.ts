import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionTracker } from './connections.js';
import { debug } from './debug.js';
import type { Transport } from './http1.js';
import { stopAccepting } from './node-internals.js';
import type { DrainResult } from './stats.js';
import { checkMilliseconds, checkOptionsObject, given } from './validate.js';

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
}

export const DRAIN_DEFAULTS = Object.freeze({ timeout: 10_000, delay: 0, idleGrace: 0 });
const NAMES = Object.keys(DRAIN_DEFAULTS);

export type ResolvedDrainOptions = { readonly [K in keyof typeof DRAIN_DEFAULTS]: number };

/** Integers in ms from 0 to 2147483647 (`timeout` also `Infinity`), checked at the call (README, "Graceful shutdown"). */
export function resolveDrainOptions(input?: DrainOptions): ResolvedDrainOptions {
  const where = 'drain()';
  const options = checkOptionsObject(where, input, NAMES);
  return Object.freeze({
    timeout: checkMilliseconds(where, 'timeout', given(options, 'timeout', DRAIN_DEFAULTS.timeout), { min: 0, infinity: true }),
    delay: checkMilliseconds(where, 'delay', given(options, 'delay', DRAIN_DEFAULTS.delay), { min: 0 }),
    idleGrace: checkMilliseconds(where, 'idleGrace', given(options, 'idleGrace', DRAIN_DEFAULTS.idleGrace), { min: 0 }),
  });
}

/**
 * Graceful shutdown, once the policy says every response closes (`draining`).
 * After `delay` (the announce phase, during which attached servers keep
 * accepting): stop accepting, end idle connections, let busy ones close after
 * their last response, destroy the rest at the deadline. Resolves once no
 * tracked connection is left.
 */
export function runDrain(
  tracker: ConnectionTracker,
  servers: Iterable<HttpServer>,
  transport: Transport<Socket>,
  options: ResolvedDrainOptions,
): Promise<DrainResult> {
  return new Promise((resolve) => new Drain(tracker, servers, transport, options, resolve).start());
}

class Drain {
  readonly #tracker: ConnectionTracker;
  readonly #servers: Iterable<HttpServer>;
  readonly #transport: Transport<Socket>;
  readonly #options: ResolvedDrainOptions;
  readonly #resolve: (result: DrainResult) => void;
  readonly #timers: NodeJS.Timeout[] = [];
  /** Destroyed at the deadline: counted `destroyed`, not `graceful`. */
  readonly #forced = new WeakSet<Socket>();
  readonly #result: DrainResult = { graceful: 0, destroyed: 0 };
  /** Past the announce phase: the drain may end once nothing is left. */
  #running = false;
  #finished = false;

  constructor(
    tracker: ConnectionTracker,
    servers: Iterable<HttpServer>,
    transport: Transport<Socket>,
    options: ResolvedDrainOptions,
    resolve: (result: DrainResult) => void,
  ) {
    this.#tracker = tracker;
    this.#servers = servers;
    this.#transport = transport;
    this.#options = options;
    this.#resolve = resolve;
  }

  start(): void {
    // Connections that close during the announce phase (their responses already
    // say `Connection: close`) count as graceful too.
    this.#tracker.onRelease((socket, closed) => {
      if (this.#forced.has(socket)) this.#result.destroyed++;
      else if (closed) this.#result.graceful++;
      if (this.#running && this.#tracker.openCount === 0) this.#done();
    });
    const delay = this.#options.delay;
    if (delay > 0) this.#timers.push(setTimeout(() => this.#run(), delay));
    else this.#run();
  }

  #run(): void {
    const { timeout, idleGrace } = this.#options;
    this.#running = true;
    if (debug.enabled) debug('drain: %d connection(s) open, timeout %d ms', this.#tracker.openCount, timeout);
    // A response whose head already went out as keep-alive: its connection is
    // ended after the last response in flight on it.
    for (const socket of this.#tracker.openConnections()) {
      if (this.#transport.headSent(socket)) this.#transport.endAfterInFlight(socket, () => this.#closing(socket));
    }
    if (idleGrace > 0) {
      // Stop accepting now, without Node's immediate idle sweep.
      for (const server of this.#servers) stopAccepting(server);
      this.#timers.push(unref(setTimeout(() => this.#closeIdle(), idleGrace)));
    } else {
      this.#closeIdle();
    }
    // A drain must not keep the process alive by itself; open sockets do that.
    if (timeout !== Infinity && !this.#finished) this.#timers.push(unref(setTimeout(() => this.#destroyAll(), timeout)));
    if (this.#tracker.openCount === 0) this.#done();
  }

  /** Counted as closed by the drain, whatever closes it from here on. */
  #closing(socket: Socket): void {
    const state = this.#tracker.get(socket);
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
    for (const socket of this.#tracker.openConnections()) {
      if (this.#transport.busy(socket)) continue;
      // An upgraded connection (WebSocket) belongs to its 'upgrade' listener.
      if (this.#transport.upgraded(socket)) {
        this.#tracker.forget(socket);
        continue;
      }
      this.#closing(socket);
      this.#transport.destroy(socket);
    }
    // Node's own close: stops accepting, sweeps its idle connections, clears its timers.
    for (const server of this.#servers) server.close();
  }

  /** The deadline: whatever is left is destroyed. */
  #destroyAll(): void {
    for (const socket of this.#tracker.openConnections()) {
      this.#closing(socket);
      this.#forced.add(socket);
      this.#transport.destroy(socket);
    }
  }

  #done(): void {
    if (this.#finished) return;
    this.#finished = true;
    for (const timer of this.#timers) clearTimeout(timer);
    if (debug.enabled) debug('drain: done, %d graceful, %d destroyed', this.#result.graceful, this.#result.destroyed);
    this.#resolve(this.#result);
  }
}

function unref(timer: NodeJS.Timeout): NodeJS.Timeout {
  timer.unref();
  return timer;
}
