// The doctor's analysis: pure functions from what was measured to what it means.
// No sockets here (src/doctor/diagnose.ts measures), so every rule is unit-tested
// and mutation-tested on its own.
import { KNOWN_HOPS, type ChainEntry, type TimeoutValue } from './chain.js';
import type { Diagnosis, Finding } from './diagnose.js';
import { percentile } from './percentile.js';
import type { RawResponse } from './wire.js';

/**
 * The response ends its connection: `Connection: close`, or an HTTP/1.0 response
 * without `keep-alive` (HTTP/1.0 persistence is opt-in, RFC 9112 §9.3 and
 * Appendix C.2.2): an implied close is a close.
 */
export function impliesClose(response: Pick<RawResponse, 'statusLine' | 'header'>): boolean {
  const connection = response.header('connection') ?? '';
  if (/(?:^|,)\s*close\s*(?:,|$)/i.test(connection)) return true;
  return /^HTTP\/1\.0\b/.test(response.statusLine) && !/(?:^|,)\s*keep-alive\s*(?:,|$)/i.test(connection);
}

/** `Keep-Alive: timeout=5, max=100` → { timeout: 5, max: 100 } */
export function parseKeepAlive(value: string | undefined): { timeout: number | null; max: number | null } {
  const num = (name: string) => {
    const m = value?.match(new RegExp(`(?:^|[,\\s])${name}\\s*=\\s*(\\d+)`, 'i'));
    return m ? Number(m[1]) : null;
  };
  return { timeout: num('timeout'), max: num('max') };
}

/**
 * Nagle's algorithm meeting delayed ACK: a response written in two pieces without
 * TCP_NODELAY waits for the client's delayed ACK on a reused connection — about
 * 40 ms on Linux, 200 ms elsewhere — on nearly every request, while a fresh
 * connection (quick-ACK mode) escapes it. The signature is a near-constant excess.
 */
export function stallSignature(reused: number[], fresh: number[]): Diagnosis['latency']['stall'] {
  const excess = percentile(reused, 50) - percentile(fresh, 50);
  const spread = percentile(reused, 90) - percentile(reused, 10);
  if (excess >= 25 && excess <= 60 && spread < 15) return 'delayed-ack-40ms';
  if (excess >= 150 && excess <= 260 && spread < 60) return 'delayed-ack-200ms';
  return 'none';
}

const FIX_POLICY = 'app.use(connectionPolicy()) from express-connection-policy';

/** Turns measurements into numbered findings with concrete recommendations. */
export function findingsOf(d: Omit<Diagnosis, 'findings'>): Finding[] {
  return [...persistenceFindings(d.persistence), ...idleFindings(d), ...latencyFindings(d), ...chainFindings(d)];
}

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(1))} s`;

/** The timeout chain: a hop that races the server, and the server's timeouts the hops expose. */
function chainFindings(d: Omit<Diagnosis, 'findings'>): Finding[] {
  const f: Finding[] = [];
  const chain = d.chain ?? [];
  const server = d.timeouts?.idle;
  for (const entry of chain) {
    if (entry.race !== true || typeof server !== 'number') continue;
    const raise = Math.ceil(entry.idle / 1000) + 5;
    f.push({
      code: 'chain-race',
      message: `${entry.hop} keeps idle connections to the server ${seconds(entry.idle)}${entry.assumed ? ' (its documented default, assumed)' : ''}, but the server closes them after ${seconds(server)}: ${entry.hop} may send a request on a connection the server is closing at that moment (502, ECONNRESET, Envoy's 503 UC) — the keep-alive race`,
      recommendation: `idle timeouts must grow from the client towards the server: raise the server's idle timeout above ${entry.hop}'s (connectionPolicy({ idleTimeout: ${raise}_000 })), or lower ${entry.hop}'s below ${seconds(server)}.`,
    });
  }
  const request = d.timeouts?.request;
  const bodyAllowance = allowance(chain, (hop) => hop.streamsBodies);
  if (typeof request === 'number' && bodyAllowance !== undefined && request <= bodyAllowance.idle) {
    f.push({
      code: 'request-timeout-cuts-uploads',
      message: `the server cuts a request that takes longer than ${seconds(request)} to arrive (its request timeout), while ${bodyAllowance.hop} forwards a body as it comes and lets a client pause up to ${seconds(bodyAllowance.idle)} between bytes: slow or large uploads fail mid-way (408, then 502 at the proxy; nodejs/node#46574)`,
      recommendation: `raise the server's request timeout above the longest upload you accept (Node: server.requestTimeout, 300 s by default; 0 turns it off), or have the proxy buffer request bodies (nginx does by default).`,
    });
  }
  const headers = d.timeouts?.headers;
  const headAllowance = allowance(chain, (hop) => hop.passesHead, true);
  if (typeof headers === 'number' && headAllowance !== undefined && headers <= headAllowance.idle) {
    f.push({
      code: 'headers-timeout-slow-clients',
      message: `every hop in front passes the request head through as it arrives (${headAllowance.hop} is a TCP pass-through, idle ${seconds(headAllowance.idle)}), so a slow client's head meets the server's headers timeout of ${seconds(headers)}: such clients get 408s (nodejs/node#44228)`,
      recommendation:
        "put an HTTP proxy that reads the whole head in front (ALB, nginx, Envoy), or raise the server's headers timeout (Node: server.headersTimeout, 60 s by default, at most requestTimeout).",
    });
  }
  return f;
}

/**
 * The hops nearest the server, back to the first one that does not have `trait`
 * (`all`: every hop must have it), and the shortest idle timeout among them: how
 * long a client may pause between bytes that reach the server as they come.
 * `undefined` where no such hop is known (an unknown name ends the run: no claim).
 */
function allowance(
  chain: readonly ChainEntry[],
  trait: (hop: (typeof KNOWN_HOPS)[string]) => boolean,
  all = false,
): { hop: string; idle: number } | undefined {
  let found: { hop: string; idle: number } | undefined;
  for (let i = chain.length - 1; i >= 0; i--) {
    const entry = chain[i]!;
    const known = KNOWN_HOPS[entry.hop];
    if (known === undefined || !trait(known)) return all ? undefined : found;
    if (found === undefined || entry.idle < found.idle) found = { hop: entry.hop, idle: entry.idle };
  }
  return found;
}

export type { TimeoutValue };

function persistenceFindings(p: Diagnosis['persistence']): Finding[] {
  const f: Finding[] = [];
  if (!p.http11KeptAlive) {
    f.push({
      code: 'no-keep-alive',
      message: `the server closes HTTP/1.1 connections after each response${p.connectionHeader === 'close' ? ' (Connection: close)' : ''}; every request pays a new TCP (and TLS) handshake`,
      recommendation: `persistence is the HTTP/1.1 default (RFC 9112 §9.3); stop forcing Connection: close — if closing looked faster, the cause is usually a Nagle × delayed-ACK stall (the latency rows show it). ${FIX_POLICY} keeps connections alive correctly.`,
    });
  }
  if (!p.clientCloseHonoured) {
    f.push({
      code: 'client-close-ignored',
      message: 'the server did not close the connection after a request with Connection: close',
      recommendation: `RFC 9112 §9.6: the response to a request with Connection: close is the last one; never set Connection: keep-alive by hand (it overrides the client in Node). ${FIX_POLICY} gets it right.`,
    });
  }
  if (p.http10WithoutKeepAlive === 'kept open') {
    f.push({
      code: 'http10-kept-open',
      message: 'an HTTP/1.0 request without Connection: keep-alive was answered but its connection kept open',
      recommendation: 'HTTP/1.0 connections persist only when the client asks (RFC 9112 §9.3); close them otherwise.',
    });
  }
  if (p.pipelining === 'not answered') {
    f.push({
      code: 'pipelining-broken',
      message: 'two pipelined requests on one connection were not both answered',
      recommendation: 'HTTP/1.1 servers must answer pipelined requests in order (RFC 9112 §9.3.2).',
    });
  }
  if (p.http11KeptAlive) {
    if (p.advertisedTimeout === null) {
      f.push({
        code: 'no-keep-alive-hint',
        message:
          'kept-alive responses carry no Keep-Alive: timeout hint, so clients guess how long the connection lives (undici: 4 s; Node http.Agent: for ever)',
        recommendation: `advertise a timeout one second below the idle close you enforce, so clients let go first (no keep-alive race). ${FIX_POLICY} does (advertise: true).`,
      });
    } else if (p.advertisedTimeout <= 2) {
      f.push({
        code: 'hint-too-short',
        message: `Keep-Alive: timeout=${p.advertisedTimeout} switches reuse off in undici/fetch (≤ 2 s) and Node's agents (≤ 1 s): the connection is kept but never reused`,
        recommendation:
          'enforce a longer idle timeout (65 s sits above common load balancers), and advertise it minus one second.',
      });
    }
  }
  return f;
}

function idleFindings(d: Omit<Diagnosis, 'findings'>): Finding[] {
  const f: Finding[] = [];
  const p = d.persistence;
  if (d.idle) {
    const closed = d.idle.closedAfterMs;
    if (closed !== null && p.advertisedTimeout !== null && p.advertisedTimeout * 1000 >= closed) {
      f.push({
        code: 'hint-not-below-close',
        message: `the server advertises timeout=${p.advertisedTimeout} s but closes idle connections after ${(closed / 1000).toFixed(1)} s: a client that honours the hint sends on a connection the server is closing (ECONNRESET, 502 behind a proxy)`,
        recommendation: `advertise at least one second below the real close. ${FIX_POLICY} advertises floor(idleTimeout / 1000) − 1.`,
      });
    }
    if (closed !== null && d.idle.closedWith === 'reset') {
      f.push({
        code: 'idle-reset',
        message: `the server ends idle connections with a reset (after ${(closed / 1000).toFixed(1)} s), not a FIN: clients see ECONNRESET instead of a clean close, and cannot tell it from a crash`,
        recommendation:
          'close idle connections with a FIN (an orderly shutdown of the socket); a reset means data was left unread or SO_LINGER is set to 0.',
      });
    }
    if (closed !== null && closed < 60_000 && p.http11KeptAlive) {
      f.push({
        code: 'idle-timeout-short',
        message: `idle connections are closed after ${(closed / 1000).toFixed(1)} s, less than the 60 s idle timeout of common load balancers (AWS ALB, nginx upstream keepalive_timeout): behind one, expect intermittent 502s`,
        recommendation:
          'idle timeouts must grow from the client towards the server: set the server above the proxy, e.g. connectionPolicy({ idleTimeout: 65_000 }).',
      });
    }
  }
  return f;
}

function latencyFindings(d: Omit<Diagnosis, 'findings'>): Finding[] {
  const f: Finding[] = [];
  const p = d.persistence;
  const { stall, reused, fresh } = d.latency;
  if (stall !== 'none') {
    const ms = stall === 'delayed-ack-40ms' ? '~40 ms (Linux delayed ACK)' : '~200 ms (delayed ACK)';
    f.push({
      code: 'nagle-delayed-ack-stall',
      message: `requests on a reused connection are slower than on fresh ones by a near-constant ${ms}: p50 ${reused.p50.toFixed(1)} ms reused against ${fresh.p50.toFixed(1)} ms fresh — the response is written in several pieces with Nagle's algorithm on, and each waits for the client's delayed ACK`,
      recommendation: `set TCP_NODELAY on the server's sockets (${FIX_POLICY} does, noDelay: true) and write the head and body in one piece; do not "fix" it with Connection: close.`,
    });
  } else if (p.http11KeptAlive && reused.p50 > fresh.p50 * 1.2 && reused.p50 - fresh.p50 > 2) {
    f.push({
      code: 'reused-slower',
      message: `requests on a reused connection are slower than on fresh ones (p50 ${reused.p50.toFixed(1)} ms against ${fresh.p50.toFixed(1)} ms), without the delayed-ACK signature`,
      recommendation: 'look for per-connection state that grows with use (buffers, listeners) or a response written in pieces.',
    });
  }
  return f;
}
