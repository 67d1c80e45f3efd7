import { expect } from 'chai';
import { EventSource, WebSocket } from 'undici';
import { runTs, type Child } from './helpers/child.js';

// examples/sse.ts and examples/websocket.ts with real clients (undici's
// EventSource and WebSocket, ws on the server): on SIGTERM every stream ends
// cleanly at a moment of its own within `spread`, and the drain destroys nothing.

interface Stream {
  events: number[];
  /** Milliseconds from SIGTERM to the end of the stream (EventSource's first 'error'). */
  endedAfter?: number;
}

/** `n` EventSource clients on /events, each closed at the end of its first stream. */
function openStreams(url: string, n: number, signalledAt: () => number): { streams: Stream[]; sources: EventSource[] } {
  const streams: Stream[] = [];
  const sources = Array.from({ length: n }, () => {
    const stream: Stream = { events: [] };
    streams.push(stream);
    const es = new EventSource(`${url}events`);
    es.onmessage = (e) => stream.events.push(Number(e.data));
    es.onerror = () => {
      if (signalledAt() > 0) stream.endedAfter ??= Date.now() - signalledAt();
      es.close();
    };
    return es;
  });
  return { streams, sources };
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`never happened within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function start(script: string, args: string[]): Promise<{ child: Child; url: string }> {
  const child = runTs(script, ['--port', '0', ...args]);
  const url = (await child.waitFor(/listening on (http:\/\/\S+)/))[1]!;
  return { child, url };
}

describe('examples/sse.ts', function () {
  this.timeout(30_000);
  let child: Child | undefined;
  let sources: EventSource[] = [];
  afterEach(() => {
    for (const es of sources) es.close();
    sources = [];
    child?.kill();
  });

  it('ends 50 streams spread over 2 s on SIGTERM: the ends cover the window with no burst, and the drain destroys none', async () => {
    const started = await start('examples/sse.ts', ['--interval', '50', '--drain-spread', '2000', '--drain-timeout', '5000']);
    child = started.child;
    let signalledAt = 0;
    const opened = openStreams(started.url, 50, () => signalledAt);
    sources = opened.sources;
    const { streams } = opened;
    await until(() => streams.every((s) => s.events.length >= 2), 'two events on every stream');
    signalledAt = Date.now();
    child.process.kill('SIGTERM');
    await until(() => streams.every((s) => s.endedAfter !== undefined), 'every stream ended');
    const drained = JSON.parse((await child.waitFor(/drained: (\{.*\})/))[1]!) as { graceful: number; destroyed: number };
    expect(await child.exited()).to.equal(0);
    const ends = streams.map((s) => s.endedAfter!).sort((a, b) => a - b);
    const buckets = new Map<number, number>();
    for (const t of ends) buckets.set(Math.floor(t / 200), (buckets.get(Math.floor(t / 200)) ?? 0) + 1);
    const busiest = Math.max(...buckets.values());
    console.log(
      `      ends from ${ends[0]} to ${ends.at(-1)} ms after SIGTERM; busiest 200 ms window: ${busiest} of 50; drained ${JSON.stringify(drained)}`,
    );
    expect(drained).to.deep.equal({ graceful: 50, destroyed: 0 });
    // Every event arrived in order, none twice.
    for (const s of streams) expect(s.events).to.deep.equal(s.events.map((_, i) => i + 1));
    // Spread over the window: the first ends early, the last late, within 2 × spread.
    expect(ends[0]).to.be.below(400);
    expect(ends.at(-1)).to.be.within(1600, 4000);
    // No burst: uniform would put 5 of 50 in each 200 ms window; allow three times that.
    expect(busiest).to.be.at.most(15);
  });

  it('without the signal (the control): the drain waits for timeout and destroys every stream at once', async () => {
    const started = await start('examples/sse.ts', ['--ignore-signal', '--drain-spread', '0', '--drain-timeout', '1000']);
    child = started.child;
    let signalledAt = 0;
    const opened = openStreams(started.url, 10, () => signalledAt);
    sources = opened.sources;
    await until(() => opened.streams.every((s) => s.events.length >= 1), 'an event on every stream');
    signalledAt = Date.now();
    child.process.kill('SIGTERM');
    const drained = JSON.parse((await child.waitFor(/drained: (\{.*\})/))[1]!) as { graceful: number; destroyed: number };
    await until(() => opened.streams.every((s) => s.endedAfter !== undefined), 'every stream ended');
    const ends = opened.streams.map((s) => s.endedAfter!);
    console.log(
      `      control: drained ${JSON.stringify(drained)}; streams ended ${Math.min(...ends)}–${Math.max(...ends)} ms after SIGTERM`,
    );
    expect(drained).to.deep.equal({ graceful: 0, destroyed: 10 });
    expect(Math.min(...ends)).to.be.at.least(800);
    expect(Math.max(...ends) - Math.min(...ends)).to.be.below(500);
  });
});

describe('examples/websocket.ts', function () {
  this.timeout(30_000);
  let child: Child | undefined;
  let sockets: WebSocket[] = [];
  afterEach(() => {
    for (const ws of sockets) ws.close();
    sockets = [];
    child?.kill();
  });

  async function connect(url: string, n: number): Promise<Array<{ code?: number; clean?: boolean; echoed: boolean }>> {
    const results: Array<{ code?: number; clean?: boolean; echoed: boolean }> = [];
    await Promise.all(
      Array.from({ length: n }, (_, i) => {
        const result: { code?: number; clean?: boolean; echoed: boolean } = { echoed: false };
        results.push(result);
        const ws = new WebSocket(`${url.replace('http', 'ws')}echo`);
        sockets.push(ws);
        ws.onclose = (e) => Object.assign(result, { code: e.code, clean: e.wasClean });
        return new Promise<void>((resolve, reject) => {
          ws.onerror = () => reject(new Error(`socket ${i} failed`));
          ws.onopen = () => ws.send(`hello ${i}`);
          ws.onmessage = (e) => {
            result.echoed = e.data === `hello ${i}`;
            resolve();
          };
        });
      }),
    );
    return results;
  }

  it('closes every socket with 1001 on SIGTERM, never 1006, and the drain destroys none', async () => {
    const started = await start('examples/websocket.ts', ['--drain-spread', '500', '--drain-timeout', '5000']);
    child = started.child;
    const results = await connect(started.url, 10);
    expect(results.every((r) => r.echoed)).to.equal(true);
    child.process.kill('SIGTERM');
    const drained = JSON.parse((await child.waitFor(/drained: (\{.*\})/))[1]!) as { graceful: number; destroyed: number };
    await until(() => results.every((r) => r.code !== undefined), 'every socket closed');
    expect(results.map((r) => r.code)).to.deep.equal(Array(10).fill(1001));
    expect(results.every((r) => r.clean)).to.equal(true);
    expect(drained).to.deep.equal({ graceful: 10, destroyed: 0 });
  });

  it('without the signal (the control): every socket is destroyed at the deadline (1006)', async () => {
    const started = await start('examples/websocket.ts', ['--ignore-signal', '--drain-spread', '0', '--drain-timeout', '500']);
    child = started.child;
    const results = await connect(started.url, 5);
    child.process.kill('SIGTERM');
    const drained = JSON.parse((await child.waitFor(/drained: (\{.*\})/))[1]!) as { graceful: number; destroyed: number };
    await until(() => results.every((r) => r.code !== undefined), 'every socket closed');
    console.log(
      `      control: drained ${JSON.stringify(drained)}; close codes ${[...new Set(results.map((r) => r.code))].join(', ')}`,
    );
    expect(drained).to.deep.equal({ graceful: 0, destroyed: 5 });
    expect(results.map((r) => r.code)).to.deep.equal(Array(5).fill(1006));
  });
});
