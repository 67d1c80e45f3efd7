import { expect } from 'chai';
import { EventSource, WebSocket } from 'undici';
import type { Child } from '../test/helpers/child.js';
import { startInstance } from './helpers/instance.js';
import { startHaproxy, type Haproxy } from './helpers/haproxy.js';
import { freePort } from './helpers/process.js';

// Long-lived requests through a rolling restart (SPEC §1, "Long-lived requests in a
// drain"): two instances of examples/sse.ts, then of examples/websocket.ts, behind
// HAProxy with health checks on /ready; each instance is restarted once (SIGTERM →
// drain({ delay: 1000, spread: 1000, timeout: 5000 }) → exit → a new process on the
// same port). Every EventSource client resumes on the other instance from its
// Last-Event-ID with no event lost or repeated; every WebSocket closes with 1001
// and reconnects; no drain destroys anything. The same rollout with the examples'
// --ignore-signal is the control, counted and printed.

const DRAIN = ['--drain-delay', '1000', '--drain-spread', '1000', '--drain-timeout', '5000'];
const CONTROL = ['--ignore-signal', '--drain-delay', '1000', '--drain-spread', '0', '--drain-timeout', '1500'];
const CLIENTS = 20;

interface Rollout {
  drained: Array<{ graceful: number; destroyed: number }>;
}

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`never happened within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('streams through a rolling restart behind HAProxy', function () {
  this.timeout(120_000);
  let haproxy: Haproxy | undefined;
  const children: Child[] = [];
  const cleanups: Array<() => void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) c();
    await haproxy?.stop();
    haproxy = undefined;
    for (const c of children.splice(0)) c.kill();
  });

  // The old process gave the port up at the end of its delay; it has exited by now.
  const start = (script: string, port: number, args: string[]) => startInstance(script, port, args, children);

  /** Two instances behind HAProxy; `during()` runs with traffic flowing; each instance is then restarted once. */
  async function rollout(script: string, args: string[], during: (url: string) => Promise<void>): Promise<Rollout> {
    const ports = [await freePort(), await freePort()];
    const current = [await start(script, ports[0]!, args), await start(script, ports[1]!, args)];
    haproxy = await startHaproxy({ upstreams: ports, healthCheck: '/ready' });
    for (const s of ['s1', 's2']) await haproxy.waitFor(s, 'UP');
    await during(haproxy.url);
    const drained: Rollout['drained'] = [];
    for (const k of [0, 1]) {
      const old = current[k]!;
      old.process.kill('SIGTERM');
      drained.push(JSON.parse((await old.waitFor(/drained: (\{.*\})/, 20_000))[1]!) as Rollout['drained'][number]);
      await old.exited();
      current[k] = await start(script, ports[k]!, args);
      await haproxy.waitFor(`s${k + 1}`, 'UP');
      await new Promise((r) => setTimeout(r, 500));
    }
    return { drained };
  }

  interface SseClient {
    events: number[];
    opens: number;
  }

  async function sseRollout(args: string[]): Promise<{ clients: SseClient[]; rollout: Rollout }> {
    const clients: SseClient[] = [];
    const result = await rollout('examples/sse.ts', [...args, '--interval', '50'], async (url) => {
      for (let i = 0; i < CLIENTS; i++) {
        const client: SseClient = { events: [], opens: 0 };
        clients.push(client);
        const es = new EventSource(`${url}events`);
        cleanups.push(() => es.close());
        es.onopen = () => client.opens++;
        es.onmessage = (e) => client.events.push(Number(e.data));
      }
      await until(() => clients.every((c) => c.events.length >= 3), 'three events on every stream');
    });
    // Every client is back and receiving.
    const counts = clients.map((c) => c.events.length);
    await until(() => clients.every((c, i) => c.events.length >= counts[i]! + 3), 'events after the rollout');
    for (const c of cleanups.splice(0)) c();
    return { clients, rollout: result };
  }

  it('server-sent events: every client resumes from Last-Event-ID on the other instance, no event lost, nothing destroyed', async () => {
    const { clients, rollout: r } = await sseRollout(DRAIN);
    const gaps = clients.filter((c) => !c.events.every((n, i) => n === i + 1)).length;
    const reconnects = clients.reduce((n, c) => n + c.opens - 1, 0);
    console.log(
      `      ${CLIENTS} streams: ${reconnects} reconnections, ${gaps} with a lost or repeated event; drains ${JSON.stringify(r.drained)}`,
    );
    expect(gaps).to.equal(0);
    for (const c of clients) expect(c.opens, 'each stream reconnected').to.be.at.least(2);
    for (const d of r.drained) expect(d.destroyed).to.equal(0);
  });

  it('server-sent events without the signal (the control), counted for information', async () => {
    const { clients, rollout: r } = await sseRollout(CONTROL);
    const gaps = clients.filter((c) => !c.events.every((n, i) => n === i + 1)).length;
    const reconnects = clients.reduce((n, c) => n + c.opens - 1, 0);
    console.log(
      `      control: ${reconnects} reconnections, ${gaps} with a lost or repeated event; drains ${JSON.stringify(r.drained)}`,
    );
    // Information only: each drain ran to its deadline and destroyed the streams left.
    expect(r.drained.reduce((n, d) => n + d.destroyed, 0)).to.be.greaterThan(0);
  });

  interface WsClient {
    codes: number[];
    echoes: number;
  }

  async function wsRollout(args: string[]): Promise<{ clients: WsClient[]; rollout: Rollout }> {
    const clients: WsClient[] = [];
    let stopped = false;
    const result = await rollout('examples/websocket.ts', args, async (url) => {
      for (let i = 0; i < CLIENTS; i++) {
        const client: WsClient = { codes: [], echoes: 0 };
        clients.push(client);
        const connect = () => {
          const ws = new WebSocket(`${url.replace('http', 'ws')}echo`);
          const ping = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('ping'), 100);
          const close = () => {
            clearInterval(ping);
            ws.close();
          };
          cleanups.push(close);
          ws.onmessage = () => client.echoes++;
          ws.onclose = (e) => {
            clearInterval(ping);
            if (stopped) return;
            client.codes.push(e.code);
            setTimeout(connect, 50);
          };
        };
        connect();
      }
      await until(() => clients.every((c) => c.echoes >= 2), 'two echoes on every socket');
    });
    const counts = clients.map((c) => c.echoes);
    await until(() => clients.every((c, i) => c.echoes >= counts[i]! + 2), 'echoes after the rollout');
    stopped = true;
    for (const c of cleanups.splice(0)) c();
    return { clients, rollout: result };
  }

  it('WebSockets: every client is closed with 1001, never 1006, and reconnects; nothing destroyed', async () => {
    const { clients, rollout: r } = await wsRollout(DRAIN);
    const codes = clients.flatMap((c) => c.codes);
    const byCode = Object.fromEntries([...new Set(codes)].map((code) => [code, codes.filter((x) => x === code).length]));
    console.log(`      ${CLIENTS} sockets: close codes ${JSON.stringify(byCode)}; drains ${JSON.stringify(r.drained)}`);
    expect([...new Set(codes)]).to.deep.equal([1001]);
    for (const c of clients) expect(c.codes.length, 'each socket was closed and reconnected').to.be.at.least(1);
    for (const d of r.drained) expect(d.destroyed).to.equal(0);
  });

  it('WebSockets without the signal (the control), counted for information', async () => {
    const { clients, rollout: r } = await wsRollout(CONTROL);
    const codes = clients.flatMap((c) => c.codes);
    const byCode = Object.fromEntries([...new Set(codes)].map((code) => [code, codes.filter((x) => x === code).length]));
    console.log(`      control: close codes ${JSON.stringify(byCode)}; drains ${JSON.stringify(r.drained)}`);
    expect(r.drained.reduce((n, d) => n + d.destroyed, 0)).to.be.greaterThan(0);
  });
});
