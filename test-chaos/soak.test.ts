import { expect } from 'chai';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { impliesClose } from '../src/doctor/analysis.js';
import { RawClient, get, request } from '../test/helpers/raw.js';
import { startServer, type TestServer } from '../test/helpers/servers.js';
import { eventually } from '../test/helpers/wait.js';

// A bounded chaos soak (CHAOS_SECONDS, 30 by default, 60 at most): many clients at
// once mixing keep-alive reuse, pipelining, HTTP/1.0, malformed Connection headers,
// aborted bodies, resets mid-response, idle expiries and silent connections, against
// Express 5 with an attached policy whose every limit is short; a drain at the end,
// with clients still sending. Then: the books balance, nothing is left open, every
// request that reached a handler was answered unless its own client walked away, and
// the heap after a full GC is where it was after warm-up.
const SECONDS = Math.min(60, Number(process.env.CHAOS_SECONDS ?? 30));
const IDLE = 300;

/** Forces a full collection (mocha runs this suite with --expose-gc) and reads the heap. */
function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc (.mocharc.chaos.cjs does)');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** What the handler saw: requests in flight, and how those that left ended. */
class Ledger {
  readonly inFlight = new Map<http.ServerResponse, string>();
  reached = 0;
  answered = 0;
  /** Responses cut off whose client walked away on purpose (the `x-chaos` tag says so). */
  abandoned = 0;
  /** Responses cut off although their client stayed: must stay empty. */
  readonly lost: string[] = [];

  track(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.reached++;
    const tag = String(req.headers['x-chaos'] ?? 'plain');
    this.inFlight.set(res, tag);
    res.once('close', () => {
      this.inFlight.delete(res);
      if (res.writableFinished) this.answered++;
      else if (tag === 'abort' || tag === 'reset') this.abandoned++;
      else this.lost.push(`${tag} ${req.method} ${req.url}`);
    });
  }
}

describe(`chaos soak (${SECONDS} s)`, function () {
  this.timeout((SECONDS + 60) * 1000);
  let ts: TestServer | undefined;
  after(async () => ts?.close());

  it('keeps its books, closes everything, answers every request whose client stayed, and holds its heap', async () => {
    const ledger = new Ledger();
    ts = await startServer(
      'express5',
      { idleTimeout: IDLE, maxRequests: 20, maxAge: 600, maxAgeJitter: 0.5 },
      (req, res) => {
        ledger.track(req, res);
        const url = new URL(req.url ?? '/', 'http://x');
        if (url.pathname === '/drip') {
          // A streamed response: 20 chunks, 10 ms apart.
          let n = 0;
          const timer = setInterval(() => {
            if (res.destroyed || ++n >= 20) {
              clearInterval(timer);
              if (!res.destroyed) res.end('end');
              return;
            }
            res.write(`chunk ${n}\n`);
          }, 10);
          return;
        }
        // Read the whole body, then answer after up to 20 ms of "work".
        let size = 0;
        req.on('data', (d: Buffer) => (size += d.length));
        req.on('end', () => setTimeout(() => res.end(`ok ${size}`), Math.random() * 20));
      },
      { attach: true },
    );
    const { port, policy } = ts;
    let stop = false;
    const clientErrors: Record<string, number> = {};
    const count = (err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message.split(' ')[0]!;
      clientErrors[code] = (clientErrors[code] ?? 0) + 1;
    };
    const pause = (max: number) => sleep(Math.random() * max);

    // Keep-alive lanes: sequential GETs and POSTs on one connection for as long as the
    // server keeps it (maxRequests, maxAge, idleTimeout end it), with pauses now and
    // then past idleTimeout: the keep-alive race, on purpose.
    const keepAliveLane = async () => {
      let c: RawClient | undefined;
      while (!stop) {
        try {
          c ??= await RawClient.connect(port);
          const post = Math.random() < 0.5;
          const body = post ? 'x'.repeat(Math.floor(Math.random() * 5000)) : '';
          c.write(post ? request('POST', '/', 'HTTP/1.1', ['Host: x', `Content-Length: ${body.length}`]) + body : get('/'));
          const res = await c.response();
          if (impliesClose(res)) {
            c.destroy();
            c = undefined;
          }
        } catch (err) {
          count(err);
          c?.destroy();
          c = undefined;
        }
        await pause(Math.random() < 0.05 ? IDLE * 1.5 : 5);
      }
      c?.destroy();
    };
    // Node's agent lanes: the hint (timeout=1) makes it give each connection up at once.
    const agentLane = async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      while (!stop) {
        await new Promise<void>((resolve) => {
          const req = http.request({ host: '127.0.0.1', port, agent, method: 'POST', path: '/' }, (res) => {
            res.resume();
            res.on('end', resolve);
            res.on('error', (err) => (count(err), resolve()));
          });
          req.on('error', (err) => (count(err), resolve()));
          req.end('x'.repeat(Math.floor(Math.random() * 5000)));
        });
        await pause(5);
      }
      agent.destroy();
    };

    // Raw lanes: one scenario per connection, picked at random.
    const scenarios: Array<() => Promise<void>> = [
      // Pipelining: three requests in one write, all answered in order (or closed by a limit).
      async () => {
        const c = await RawClient.connect(port);
        c.write(get('/?p=1') + get('/?p=2') + get('/?p=3'));
        for (let i = 0; i < 3; i++) await c.response();
        c.destroy();
      },
      // HTTP/1.0, with and without keep-alive; a malformed Connection header.
      async () => {
        const c = await RawClient.connect(port);
        c.write(request('GET', '/', 'HTTP/1.0', Math.random() < 0.5 ? ['Connection: keep-alive'] : []));
        await c.response();
        c.write(get('/', 'Connection: close;q=1, , keep-alive,,'));
        await c.response().catch(() => undefined); // closed after an HTTP/1.0 response without keep-alive
        c.destroy();
      },
      // An aborted body: the client sends part of it and leaves.
      async () => {
        const c = await RawClient.connect(port);
        c.write(request('POST', '/', 'HTTP/1.1', ['Host: x', 'X-Chaos: abort', 'Content-Length: 100000']) + 'x'.repeat(500));
        await pause(30);
        c.destroy();
      },
      // A reset mid-response.
      async () => {
        const c = await RawClient.connect(port);
        c.write(request('GET', '/drip', 'HTTP/1.1', ['Host: x', 'X-Chaos: reset']));
        await eventually(() => c.rest.length > 0 || stop, 'the response started');
        await pause(50);
        c.socket.resetAndDestroy();
      },
      // An idle expiry: one response, then the server's FIN after idleTimeout.
      async () => {
        const c = await RawClient.connect(port);
        c.write(get('/'));
        await c.response();
        await c.closed(IDLE * 3);
        c.destroy();
      },
      // A connection that never sends anything: the attached policy's idle timeout ends it.
      async () => {
        const c = await RawClient.connect(port);
        await c.closed(IDLE * 3);
        c.destroy();
      },
    ];
    const rawLane = async () => {
      while (!stop) {
        await scenarios[Math.floor(Math.random() * scenarios.length)]!().catch(count);
        await pause(5);
      }
    };

    const lanes = [
      ...Array.from({ length: 6 }, keepAliveLane),
      ...Array.from({ length: 2 }, agentLane),
      ...Array.from({ length: 6 }, rawLane),
    ];
    const heap: number[] = [];
    const started = Date.now();
    const end = started + SECONDS * 1000;
    await sleep(Math.min(5000, SECONDS * 150));
    heap.push(heapAfterGc()); // after warm-up
    while (Date.now() < end - 1000) {
      await sleep(Math.min(5000, end - 1000 - Date.now()));
      heap.push(heapAfterGc());
    }
    // The drain, with clients still sending for a moment.
    const drained = policy.drain({ timeout: 5000 });
    await sleep(300);
    stop = true;
    await Promise.all(lanes);
    const result = await drained;
    await eventually(() => ledger.inFlight.size === 0, 'every response closed');
    const stats = policy.stats();
    const closedSum = Object.values(stats.closed).reduce((a, b) => a + b, 0);
    heap.push(heapAfterGc());

    const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
    console.log(
      `      ${SECONDS} s: ${stats.accepted} connections, ${stats.requests} requests (${stats.reusedRequests} reused); ` +
        `handlers reached ${ledger.reached}, answered ${ledger.answered}, abandoned by their client ${ledger.abandoned}\n` +
        `      closed ${JSON.stringify(stats.closed)}; drain ${JSON.stringify(result)}\n` +
        `      client-side errors ${JSON.stringify(clientErrors)}\n` +
        `      heap after GC (MB): ${heap.map(mb).join(' → ')}`,
    );

    expect(stats.accepted, 'accepted == open + sum(closed)').to.equal(stats.open + closedSum);
    expect(stats.open).to.equal(0);
    expect(ledger.lost, 'requests cut off although their client stayed').to.deep.equal([]);
    expect(ledger.reached).to.equal(ledger.answered + ledger.abandoned);
    expect(ledger.answered).to.be.greaterThan(1000);
    expect(result.destroyed, 'nothing left for the drain deadline').to.equal(0);
    // Flat: after warm-up, no sample more than 4 MB above the first (a leak of one
    // closure per request would be tens of MB over tens of thousands of requests).
    expect(Math.max(...heap) - heap[0]!, `heap ${heap.map(mb).join(' → ')} MB`).to.be.below(4 * 1024 * 1024);
  });
});
