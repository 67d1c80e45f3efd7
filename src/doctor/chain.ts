// The timeout chain (`--behind`): the hops in front of the server, their idle
// timeouts, and which of them races the server's idle close. Pure functions, so
// every rule is unit-tested on its own (test/doctor-chain.test.ts).

/**
 * A hop's documented idle timeout for its connections towards the server, used
 * when `--behind` names the hop without seconds (docs/doctor.md cites each).
 * `streamsBodies`: it forwards a request body as it arrives, so a slow upload
 * reaches the server slowly (nginx buffers bodies by default,
 * `proxy_request_buffering on`). `passesHead`: a TCP pass-through, so a slow
 * client's request head reaches the server byte by byte (every HTTP proxy reads
 * the whole head before it forwards it).
 */
export interface KnownHop {
  readonly seconds: number;
  readonly source: string;
  readonly streamsBodies: boolean;
  readonly passesHead: boolean;
}

export const KNOWN_HOPS: Readonly<Record<string, KnownHop>> = Object.freeze({
  alb: { seconds: 60, source: 'AWS ALB idle timeout, default 60 s', streamsBodies: true, passesHead: false },
  nlb: { seconds: 350, source: 'AWS NLB TCP idle timeout, default 350 s', streamsBodies: true, passesHead: true },
  gcp: {
    seconds: 600,
    source: 'Google Cloud Application LB backend keep-alive, fixed at 600 s',
    streamsBodies: true,
    passesHead: false,
  },
  nginx: {
    seconds: 60,
    source: "nginx upstream keepalive_timeout, default 60 s (ngx_http_upstream_module; the client side's is 75 s)",
    streamsBodies: false,
    passesHead: false,
  },
  haproxy: {
    seconds: 5,
    source: 'HAProxy pool-purge-delay, default 5 s (idle server connections purged, half each period)',
    streamsBodies: true,
    passesHead: false,
  },
  envoy: {
    seconds: 3600,
    source: 'Envoy upstream idle_timeout (common_http_protocol_options), default 1 hour',
    streamsBodies: true,
    passesHead: false,
  },
  cloudflare: {
    seconds: 900,
    source: 'Cloudflare Proxy Idle Timeout to the origin, 900 s',
    streamsBodies: true,
    passesHead: false,
  },
});

/** One hop of `--behind`, as given. */
export interface Hop {
  /** The name given, lower-cased. */
  readonly name: string;
  /** Its idle timeout towards the server, in ms. */
  readonly idleMs: number;
  /** No seconds were given: the known default was used. */
  readonly assumed: boolean;
}

/** What a timeout probe found: ms, `null` where not measured, or longer than the probe's bound. */
export type TimeoutValue = number | null | { longerThan: number };

export interface ChainEntry {
  hop: string;
  /** ms */
  idle: number;
  assumed: boolean;
  /** It keeps an idle connection as long as the server's idle close, or longer; `null`: cannot tell (the server's is longer than the probe's bound). */
  race: boolean | null;
}

export class BehindError extends Error {}

const HOP_NAME = /^[a-z][a-z0-9_.-]*$/i;
const SECONDS = /^\d+(\.\d+)?$/;

/** `--behind alb:60,nginx` → hops, farthest first; throws `BehindError` with a one-line reason. */
export function parseBehind(value: string): Hop[] {
  const entries = value.split(',');
  return entries.map((entry) => {
    const parts = entry.trim().split(':');
    const name = parts[0]!.toLowerCase();
    if (parts.length > 2 || !HOP_NAME.test(name)) {
      throw new BehindError(`--behind takes hop[:seconds],… (e.g. alb:60,nginx); got '${entry}'`);
    }
    if (parts.length === 1) {
      const known = KNOWN_HOPS[name];
      if (known === undefined) {
        throw new BehindError(
          `--behind: no known idle timeout for '${name}'; give it as ${name}:SECONDS (known: ${Object.keys(KNOWN_HOPS).join(', ')})`,
        );
      }
      return { name, idleMs: known.seconds * 1000, assumed: true };
    }
    const seconds = parts[1]!;
    if (!SECONDS.test(seconds) || Number(seconds) <= 0) {
      throw new BehindError(`--behind: the seconds of '${name}' must be a number above 0; got '${seconds}'`);
    }
    return { name, idleMs: Math.round(Number(seconds) * 1000), assumed: false };
  });
}

/**
 * Every hop must let an idle connection go before the server does (idle timeouts
 * grow from the client towards the server): one that keeps it as long or longer
 * may send a request on a connection the server is closing — the keep-alive race
 * (502s, `ECONNRESET`, Envoy's 503 UC). `serverIdle` is the server's measured idle
 * close (`null`: it closes after every response, so nothing is pooled).
 */
export function chainOf(hops: readonly Hop[], serverIdle: TimeoutValue): ChainEntry[] {
  return hops.map((hop) => ({ hop: hop.name, idle: hop.idleMs, assumed: hop.assumed, race: races(hop.idleMs, serverIdle) }));
}

function races(hopIdle: number, serverIdle: TimeoutValue): boolean | null {
  if (serverIdle === null) return false;
  if (typeof serverIdle === 'number') return hopIdle >= serverIdle;
  return hopIdle >= serverIdle.longerThan ? null : false;
}
