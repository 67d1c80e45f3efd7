import { expect } from 'chai';
import { startServerProcess, type ServerProcess } from '../bench/lib/server-process.js';
import { startHaproxy, type Haproxy } from './helpers/haproxy.js';
import { nodeLane } from './helpers/lanes.js';
import { freePort } from './helpers/process.js';

// Zero-downtime rollouts behind a health-checking load balancer (SPEC §1: drain({
// delay, idleGrace, timeout }), policy.readiness()). Two instances of the echo
// example behind HAProxy, which checks /ready every 200 ms (fall 1, rise 1) and
// reuses server connections (http-reuse always). Under continuous mixed GET/POST
// load from several clients, each instance is restarted twice, one at a time:
// SIGTERM → drain() → exit → a new process on the same port. With the announce
// phase, HAProxy sees /ready fail and takes the instance out of rotation before it
// stops accepting: no request fails. The same rollout without delay and readiness
// is counted beside it, for information.
describe('rolling restart behind HAProxy with health checks', function () {
  this.timeout(180_000);
  let haproxy: Haproxy | undefined;
  const instances: ServerProcess[] = [];
  afterEach(async () => {
    await haproxy?.stop();
    haproxy = undefined;
    for (const i of instances.splice(0)) await i.stop();
  });

  async function start(port: number, drainArgs: string[], script: string, args: string[]): Promise<ServerProcess> {
    // The old process gave the port up when its drain began; a moment may pass.
    for (let attempt = 0; ; attempt++) {
      try {
        const p = await startServerProcess(script, ['--port', String(port), ...drainArgs, ...args]);
        instances.push(p);
        return p;
      } catch (err) {
        if (attempt > 30) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  interface Outcome {
    phases: Array<{ phase: string; answered: number; failed: number }>;
    statuses: Record<number, number>;
    failures: string[];
    retries: number;
    redispatches: number;
  }

  async function rollout({
    announce,
    script = 'examples/echo-server.ts',
    args = [],
  }: {
    announce: boolean;
    script?: string;
    args?: string[];
  }): Promise<Outcome> {
    const drainArgs = announce
      ? ['--drain-delay', '1000', '--drain-idle-grace', '300', '--drain-timeout', '5000']
      : ['--drain-delay', '0', '--drain-idle-grace', '0', '--drain-timeout', '5000'];
    const ports = [await freePort(), await freePort()];
    const current = [await start(ports[0]!, drainArgs, script, args), await start(ports[1]!, drainArgs, script, args)];
    // Without readiness, HAProxy has nothing to check: it learns of a stopped
    // instance only from refused connections.
    haproxy = await startHaproxy({ upstreams: ports, ...(announce ? { healthCheck: '/ready' } : {}) });
    if (announce) for (const s of ['s1', 's2']) await haproxy.waitFor(s, 'UP');

    let phase = 'warm-up';
    let stop = false;
    const phases = new Map<string, { answered: number; failed: number }>();
    const count = (key: 'answered' | 'failed') => {
      const p = phases.get(phase) ?? { answered: 0, failed: 0 };
      p[key]++;
      phases.set(phase, p);
    };
    const statuses: Record<number, number> = {};
    const failures: string[] = [];
    const lanes = Array.from({ length: 6 }, async (_, n) => {
      const lane = nodeLane(haproxy!.url, {}, n % 2 === 0 ? 'GET' : 'POST');
      for (let i = 0; !stop && i < 100_000; i++) {
        try {
          const { status } = await lane.send();
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (status >= 500) {
            failures.push(`HTTP ${status} (${phase})`);
            count('failed');
          } else {
            count('answered');
          }
        } catch (err) {
          failures.push(`${(err as NodeJS.ErrnoException).code ?? String(err)} (${phase})`);
          count('failed');
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      await lane.close();
    });

    await new Promise((r) => setTimeout(r, 500));
    for (const round of [1, 2]) {
      for (const k of [0, 1]) {
        phase = `restart ${round} of s${k + 1}`;
        await current[k]!.stop(); // SIGTERM → drain({ delay, idleGrace, timeout }) → exit
        current[k] = await start(ports[k]!, drainArgs, script, args);
        if (announce) await haproxy.waitFor(`s${k + 1}`, 'UP');
        else await new Promise((r) => setTimeout(r, 500));
        // Some traffic on both before the next instance goes.
        await new Promise((r) => setTimeout(r, 300));
      }
    }
    phase = 'after';
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(lanes);
    const stats = await haproxy.stats();
    return {
      phases: [...phases].map(([name, p]) => ({ phase: name, ...p })),
      statuses,
      failures,
      retries: stats.reduce((n, s) => n + s.retries, 0),
      redispatches: stats.reduce((n, s) => n + s.redispatches, 0),
    };
  }

  function report(label: string, o: Outcome): void {
    console.log(
      `      ${label}: ${JSON.stringify(o.statuses)} answered, ${o.failures.length} failed; HAProxy retries ${o.retries}, redispatches ${o.redispatches}`,
    );
    for (const p of o.phases) console.log(`        ${p.phase}: ${p.answered} answered, ${p.failed} failed`);
    if (o.failures.length > 0) console.log(`        failures: ${[...new Set(o.failures)].slice(0, 6).join('; ')}`);
  }

  it('restarts each instance twice with zero failed requests and zero 5xx, with delay and readiness', async () => {
    const o = await rollout({ announce: true });
    report('with delay + readiness', o);
    expect(o.failures).to.deep.equal([]);
    expect(Object.keys(o.statuses)).to.deep.equal(['200']);
    expect(o.statuses[200]).to.be.greaterThan(500);
    // Every phase carried traffic: the other instance served while one restarted.
    for (const p of o.phases) expect(p.answered, p.phase).to.be.greaterThan(0);
  });

  for (const [label, script, args] of [
    ['a Fastify app (policy.fastify; SIGTERM → drain → fastify.close())', 'test-interop/fixtures/fastify-server.ts', []],
    [
      'a NestJS app on Express (SIGTERM → enableShutdownHooks → beforeApplicationShutdown awaits drain)',
      'test-interop/fixtures/nest-server.ts',
      ['--platform', 'express'],
    ],
    [
      'a NestJS app on Fastify (the same, with policy.fastify)',
      'test-interop/fixtures/nest-server.ts',
      ['--platform', 'fastify'],
    ],
  ] as const) {
    it(`${label}: the same rollout, zero failed requests and zero 5xx`, async () => {
      const o = await rollout({ announce: true, script, args: [...args] });
      report(label, o);
      expect(o.failures).to.deep.equal([]);
      expect(Object.keys(o.statuses)).to.deep.equal(['200']);
      expect(o.statuses[200]).to.be.greaterThan(500);
      for (const p of o.phases) expect(p.answered, p.phase).to.be.greaterThan(0);
    });
  }

  it('the same rollout without delay and readiness, counted for information', async () => {
    const o = await rollout({ announce: false });
    report('without', o);
    // Information only: what the announce phase prevents. The requests were all sent.
    expect(o.statuses[200] ?? 0).to.be.greaterThan(0);
  });
});
