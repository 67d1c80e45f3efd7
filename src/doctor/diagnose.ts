// What connection-doctor measures, over raw sockets, against any HTTP/1.1 server.
import { findingsOf, impliesClose, parseKeepAlive, stallSignature } from './analysis.js';
import { chainOf, type ChainEntry, type Hop, type TimeoutValue } from './chain.js';
import { measureTimeouts, type ProbeTarget, type Timeouts } from './timeouts.js';
import { parseConnectionId } from '../connection-id.js';
import { percentile } from './percentile.js';
import { RawClient, request, type RawResponse } from './wire.js';

export interface DiagnoseOptions {
  url: URL;
  requests: number;
  method: string;
  data: string | undefined;
  headers: string[];
  /** Also measure the idle close the server really enforces, waiting at most maxIdle ms. */
  idle: boolean;
  maxIdle: number;
  /** Also measure the headers and request timeouts (and the idle one), each bounded by maxWait ms. */
  timeouts: boolean;
  maxWait: number;
  /** The hops in front of the server, farthest first (`--behind`): their idle timeouts against the server's. */
  behind: Hop[];
  progress: (message: string) => void;
}

export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  samples: number;
}

export interface Finding {
  code: string;
  message: string;
  recommendation: string;
}

export interface Diagnosis {
  url: string;
  persistence: {
    http11KeptAlive: boolean;
    /** What a plain HTTP/1.1 response said. */
    connectionHeader: string | null;
    keepAliveHeader: string | null;
    advertisedTimeout: number | null;
    advertisedMax: number | null;
    clientCloseHonoured: boolean;
    http10WithoutKeepAlive: 'closed' | 'kept open';
    http10WithKeepAlive: 'kept alive' | 'closed';
    pipelining: 'answered in order' | 'answered' | 'closed after the first' | 'not answered';
  };
  idle?: IdleProbe;
  latency: { reused: Latency; fresh: Latency; stall: 'none' | 'delayed-ack-40ms' | 'delayed-ack-200ms' };
  /** `--timeouts` (all three) or `--behind` (the idle one): what the server enforces, in ms. */
  timeouts?: Timeouts;
  /** `--behind`: each hop, farthest first, its idle timeout in ms, and whether it races the server. */
  chain?: ChainEntry[];
  findings: Finding[];
}

/** What the idle probe saw after one response on a fresh connection. */
export interface IdleProbe {
  /** When the server ended the idle connection; `null` when it did not within `maxIdleMs`, or closed at once. */
  closedAfterMs: number | null;
  maxIdleMs: number;
  /** How it ended it: a FIN, or a reset (clients see ECONNRESET instead of a clean close). */
  closedWith?: 'fin' | 'reset';
  /** The response itself said (or implied) that the connection ends: there is no idle period. */
  closesAfterEachResponse?: boolean;
}

/** How long to watch for the server's FIN after a response that should close (or not). */
const CLOSE_WAIT_MS = 1500;
const OPEN_WAIT_MS = 300;

function latencyOf(ms: number[]): Latency {
  return { p50: percentile(ms, 50), p90: percentile(ms, 90), p99: percentile(ms, 99), samples: ms.length };
}

export class Prober implements ProbeTarget {
  readonly #o: DiagnoseOptions;
  readonly #port: number;
  readonly #secure: boolean;
  readonly #path: string;

  constructor(options: DiagnoseOptions) {
    this.#o = options;
    this.#secure = options.url.protocol === 'https:';
    this.#port = Number(options.url.port || (this.#secure ? 443 : 80));
    this.#path = `${options.url.pathname}${options.url.search}`;
  }

  /** One request in the wire format, for `version` and extra header lines. */
  request(version: 'HTTP/1.1' | 'HTTP/1.0', extra: string[] = []): string {
    const { method, data, headers, url } = this.#o;
    const lines = [...headers, ...extra];
    if (data !== undefined) {
      lines.push(`Content-Length: ${Buffer.byteLength(data)}`);
      if (!headers.some((h) => /^content-type:/i.test(h))) lines.push('Content-Type: application/x-www-form-urlencoded');
    }
    const host = version === 'HTTP/1.0' ? [`Host: ${url.host}`] : [];
    return request(method, this.#path, version, [...host, ...lines], url.host) + (data ?? '');
  }

  uploadHead(length: number): string {
    const { headers, url } = this.#o;
    const lines = [...headers, `Content-Length: ${length}`];
    if (!headers.some((h) => /^content-type:/i.test(h))) lines.push('Content-Type: application/octet-stream');
    return request('POST', this.#path, 'HTTP/1.1', lines, url.host);
  }

  connect(): Promise<RawClient> {
    return RawClient.connect(this.#port, this.#o.url.hostname.replace(/^\[|\]$/g, ''), { secure: this.#secure });
  }

  async #exchange(payload: string, watchMs: number): Promise<{ response: RawResponse; closed: boolean; client: RawClient }> {
    const client = await this.connect();
    client.write(payload);
    const response = await client.response({ head: this.#o.method === 'HEAD', timeoutMs: 10_000 });
    const closed = (await client.closed(watchMs)).kind !== 'open';
    return { response, closed, client };
  }

  async persistence(): Promise<Diagnosis['persistence']> {
    const p = this.#o.progress;
    p('persistence: HTTP/1.1 keep-alive by default…');
    const plain = await this.#exchange(this.request('HTTP/1.1'), OPEN_WAIT_MS);
    let http11KeptAlive = !plain.closed;
    if (http11KeptAlive) {
      // Really reusable: a second request on the same connection is answered.
      plain.client.write(this.request('HTTP/1.1'));
      http11KeptAlive = await plain.client.response({ head: this.#o.method === 'HEAD', timeoutMs: 10_000 }).then(
        () => true,
        () => false,
      );
    }
    plain.client.destroy();
    const hint = parseKeepAlive(plain.response.header('keep-alive'));

    p("persistence: the client's Connection: close…");
    const close = await this.#exchange(this.request('HTTP/1.1', ['Connection: close']), CLOSE_WAIT_MS);
    close.client.destroy();

    p('persistence: HTTP/1.0 without and with keep-alive…');
    const old = await this.#exchange(this.request('HTTP/1.0'), CLOSE_WAIT_MS);
    old.client.destroy();
    const oldKa = await this.#exchange(this.request('HTTP/1.0', ['Connection: keep-alive']), OPEN_WAIT_MS);
    oldKa.client.destroy();

    p('persistence: a pipelined pair…');
    const pipelining = await this.#pipelining();

    return {
      http11KeptAlive,
      connectionHeader: plain.response.header('connection') ?? null,
      keepAliveHeader: plain.response.header('keep-alive') ?? null,
      advertisedTimeout: hint.timeout,
      advertisedMax: hint.max,
      clientCloseHonoured: close.closed,
      http10WithoutKeepAlive: old.closed ? 'closed' : 'kept open',
      http10WithKeepAlive: oldKa.closed ? 'closed' : 'kept alive',
      pipelining,
    };
  }

  async #pipelining(): Promise<Diagnosis['persistence']['pipelining']> {
    const client = await this.connect();
    try {
      client.write(this.request('HTTP/1.1') + this.request('HTTP/1.1'));
      const head = this.#o.method === 'HEAD';
      const first = await client.response({ head, timeoutMs: 5000 });
      // A server that closes after each response (said or implied) rightly leaves the
      // second to a new connection: the client retries it (RFC 9112 §9.3.2).
      if (impliesClose(first)) return 'closed after the first';
      let second: RawResponse;
      try {
        second = await client.response({ head, timeoutMs: 5000 });
      } catch (err) {
        // Closed without saying so after the first: the same, if impolite.
        if ((await client.closed(0)).kind !== 'open') return 'closed after the first';
        throw err;
      }
      // Order is observable where the server numbers its requests (x-connection-id).
      const n = (r: RawResponse) => parseConnectionId(r.header('x-connection-id'))?.requests;
      if (n(first) !== undefined && n(second) !== undefined) {
        return Number(n(first)) < Number(n(second)) ? 'answered in order' : 'answered';
      }
      return 'answered';
    } catch {
      return 'not answered';
    } finally {
      client.destroy();
    }
  }

  /** How long the server keeps an idle connection after a response, waiting at most `maxIdle` ms. */
  async idle(maxIdle = this.#o.maxIdle): Promise<IdleProbe> {
    const { progress } = this.#o;
    progress(`idle: waiting up to ${Math.round(maxIdle / 1000)} s for the server to close an idle connection…`);
    const client = await this.connect();
    try {
      client.write(this.request('HTTP/1.1'));
      const response = await client.response({ head: this.#o.method === 'HEAD', timeoutMs: 10_000 });
      // No idle period to measure on a connection the response itself ends.
      if (impliesClose(response)) return { closedAfterMs: null, maxIdleMs: maxIdle, closesAfterEachResponse: true };
      const closed = await client.closed(maxIdle);
      if (closed.kind === 'open') return { closedAfterMs: null, maxIdleMs: maxIdle };
      return { closedAfterMs: Math.round(closed.afterMs), maxIdleMs: maxIdle, closedWith: closed.kind };
    } finally {
      client.destroy();
    }
  }

  /** Sequential requests on one reused connection, and on a fresh connection each. */
  async latency(): Promise<Diagnosis['latency']> {
    const { requests, progress } = this.#o;
    const head = this.#o.method === 'HEAD';
    progress(`latency: ${requests} sequential requests on one reused connection…`);
    const reused: number[] = [];
    let client = await this.connect();
    try {
      for (let i = 0; i < requests + 2; i++) {
        let t0 = performance.now();
        client.write(this.request('HTTP/1.1'));
        let response: RawResponse;
        try {
          response = await client.response({ head, timeoutMs: 10_000 });
        } catch {
          // The server closed the connection without saying so: once more on a new one.
          client.destroy();
          client = await this.connect();
          t0 = performance.now();
          client.write(this.request('HTTP/1.1'));
          response = await client.response({ head, timeoutMs: 10_000 });
        }
        // The first two requests of a connection escape delayed ACK (Linux quick-ACK).
        if (i >= 2) reused.push(performance.now() - t0);
        if (impliesClose(response) || (await client.closed(0)).kind !== 'open') {
          client.destroy();
          client = await this.connect();
        }
      }
    } finally {
      client.destroy();
    }
    progress(`latency: ${requests} requests on a fresh connection each…`);
    const fresh: number[] = [];
    for (let i = 0; i < requests; i++) {
      const t0 = performance.now();
      const c = await this.connect();
      try {
        c.write(this.request('HTTP/1.1', ['Connection: close']));
        await c.response({ head, timeoutMs: 10_000 });
        fresh.push(performance.now() - t0);
      } finally {
        c.destroy();
      }
    }
    const r = latencyOf(reused);
    const f = latencyOf(fresh);
    return { reused: r, fresh: f, stall: stallSignature(reused, fresh) };
  }
}

/** The idle probe as a timeout: `null` where the response itself ends the connection. */
function idleTimeoutOf(probe: IdleProbe): TimeoutValue {
  if (probe.closesAfterEachResponse) return null;
  return probe.closedAfterMs ?? { longerThan: probe.maxIdleMs };
}

/** Runs every probe against `options.url` and turns the measurements into findings. */
export async function diagnose(options: DiagnoseOptions): Promise<Diagnosis> {
  const prober = new Prober(options);
  const persistence = await prober.persistence();
  const chainAsked = options.behind.length > 0;
  let idle: IdleProbe | undefined;
  let timeouts: Timeouts | undefined;
  if (options.timeouts) {
    // One idle probe serves --idle, --timeouts and --behind alike, bounded by --max-wait.
    const idleProbe = async () =>
      idleTimeoutOf((idle = await prober.idle(Math.max(options.maxWait, options.idle ? options.maxIdle : 0))));
    timeouts = await measureTimeouts(prober, idleProbe, options.maxWait, options.progress);
  } else if (options.idle || chainAsked) {
    idle = await prober.idle(chainAsked && !options.idle ? options.maxWait : options.maxIdle);
    if (chainAsked) timeouts = { idle: idleTimeoutOf(idle), headers: null, request: null };
  }
  const latency = await prober.latency();
  const partial = {
    url: options.url.href,
    persistence,
    // --timeouts measures the idle close too: its findings (hint against close, …) apply.
    ...(idle && (options.idle || options.timeouts) ? { idle } : {}),
    latency,
    ...(timeouts ? { timeouts } : {}),
    ...(chainAsked ? { chain: chainOf(options.behind, timeouts!.idle) } : {}),
  };
  return { ...partial, findings: findingsOf(partial) };
}
