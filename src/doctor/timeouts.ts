// `--timeouts`: what the server really enforces, each measured with a bounded
// probe on a connection of its own. What is enforced is not always what was
// configured: Node closes an idle connection keepAliveTimeout + 1 s after a
// response, and checks headersTimeout and requestTimeout only every
// connectionsCheckingInterval (30 s by default), so its 408 may come that much
// later than configured (measured on Node 20.20: docs/doctor.md).
import type { TimeoutValue } from './chain.js';
import type { RawClient } from './wire.js';

/** How the probes reach the server: a fresh connection, and the request they send. */
export interface ProbeTarget {
  connect(): Promise<RawClient>;
  /** An HTTP/1.1 request head and body, as the doctor sends it. */
  request(version: 'HTTP/1.1', extra?: string[]): string;
  /** The request line and `Host` of a POST with a body of `length` bytes, without its body. */
  uploadHead(length: number): string;
}

export interface Timeouts {
  idle: TimeoutValue;
  headers: TimeoutValue;
  request: TimeoutValue;
}

/** The first bytes are sent this far apart, then nothing: a slow client that stalls. */
const TRICKLE_MS = 10;
const TRICKLE_BYTES = 12;
/** The body the request probe announces, of which it sends TRICKLE_BYTES. */
const UPLOAD_BYTES = 1024 * 1024;

/**
 * The server's reaction to a stalled request, counted from `startedAt`: a
 * response (its status: a 408, or any other answer), a FIN or a reset — or
 * `{ longerThan }` once `maxWait` has passed without one.
 */
async function reaction(
  client: RawClient,
  startedAt: number,
  maxWait: number,
): Promise<{ after: TimeoutValue; status?: number }> {
  const left = startedAt + maxWait - Date.now();
  try {
    const response = await client.response({ timeoutMs: Math.max(1, left) });
    return { after: Date.now() - startedAt, status: response.status };
  } catch {
    // Closed without a response is a reaction too; no answer at all is not.
    if ((await client.closed(0)).kind !== 'open') return { after: Date.now() - startedAt };
    return { after: { longerThan: maxWait } };
  }
}

/** Writes `payload` a byte at a time, TRICKLE_MS apart, stopping if the server reacts. */
async function trickle(client: RawClient, payload: string): Promise<void> {
  for (const byte of payload) {
    if ((await client.closed(0)).kind !== 'open' || client.rest.length > 0) return;
    client.write(byte);
    await new Promise((resolve) => setTimeout(resolve, TRICKLE_MS));
  }
}

/** The headers timeout: a request head sent a byte at a time, then stalled. */
async function headersTimeout(target: ProbeTarget, maxWait: number): Promise<TimeoutValue> {
  const client = await target.connect();
  try {
    const head = target.request('HTTP/1.1');
    const startedAt = Date.now();
    await trickle(client, head.slice(0, Math.min(TRICKLE_BYTES, head.length - 4)));
    return (await reaction(client, startedAt, maxWait)).after;
  } finally {
    client.destroy();
  }
}

/** The request timeout: a complete head announcing a body, a few bytes of it, then nothing. */
async function requestTimeout(target: ProbeTarget, maxWait: number): Promise<TimeoutValue> {
  const client = await target.connect();
  try {
    const startedAt = Date.now();
    client.write(target.uploadHead(UPLOAD_BYTES));
    await trickle(client, 'x'.repeat(TRICKLE_BYTES));
    const first = await reaction(client, startedAt, maxWait);
    // A handler that answered without reading the body is not the request timeout:
    // wait on for what the server does about the rest of the body.
    if (first.status !== undefined && first.status !== 408 && (await client.closed(0)).kind === 'open') {
      const closed = await client.closed(Math.max(0, startedAt + maxWait - Date.now()));
      return closed.kind === 'open' ? { longerThan: maxWait } : Date.now() - startedAt;
    }
    return first.after;
  } finally {
    client.destroy();
  }
}

/**
 * The three probes at once, each on its own connection, each bounded by
 * `maxWait`; `idle` is the idle probe the doctor already has. `progress` is told
 * every few seconds what is still being waited for.
 */
export async function measureTimeouts(
  target: ProbeTarget,
  idle: () => Promise<TimeoutValue>,
  maxWait: number,
  progress: (message: string) => void,
): Promise<Timeouts> {
  const pending = new Set(['idle', 'headers', 'request']);
  const started = Date.now();
  const ticker = setInterval(() => {
    progress(`timeouts: ${Math.round((Date.now() - started) / 1000)} s, still waiting for ${[...pending].join(', ')}…`);
  }, 5000);
  const track = async (name: string, probe: Promise<TimeoutValue>) => {
    try {
      return await probe;
    } finally {
      pending.delete(name);
    }
  };
  try {
    progress(`timeouts: probing the idle, headers and request timeouts at once (each up to ${Math.round(maxWait / 1000)} s)…`);
    const [idleMs, headers, request] = await Promise.all([
      track('idle', idle()),
      track('headers', headersTimeout(target, maxWait)),
      track('request', requestTimeout(target, maxWait)),
    ]);
    return { idle: idleMs, headers, request };
  } finally {
    clearInterval(ticker);
  }
}
