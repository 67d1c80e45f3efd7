import { expect } from 'chai';
import { startServerProcess, type ServerProcess } from '../bench/lib/server-process.js';
import { nodeLane } from './helpers/lanes.js';
import { startNginx, type Nginx } from './helpers/nginx.js';
import { raceHarness } from './helpers/race.js';

// nginx as a reverse proxy with an upstream keep-alive pool in front of Express:
// the hop where most keep-alive failures happen in production.
describe('behind nginx (upstream keep-alive pool)', function () {
  this.timeout(120_000);
  let app: ServerProcess;
  let nginx: Nginx;
  afterEach(async () => {
    await nginx?.stop();
    await app?.stop();
  });

  it('reuses upstream connections for 2,000 mixed requests with idle gaps, with zero 5xx', async () => {
    app = await startServerProcess('test-interop/fixtures/policy-server.ts', []);
    nginx = await startNginx({ upstreams: [Number(new URL(app.url).port)], keepalive: 8 });
    const statuses: Record<number, number> = {};
    let sent = 0;
    const lanes = 4;
    await Promise.all(
      Array.from({ length: lanes }, async (_, n) => {
        for (let burst = 0; burst < 4; burst++) {
          const post = nodeLane(nginx.url, {}, 'POST');
          const get = nodeLane(nginx.url, {}, 'GET');
          for (let i = 0; i < 125; i++) {
            const { status } = await (i % 2 === 0 ? get : post).send();
            statuses[status] = (statuses[status] ?? 0) + 1;
            sent++;
          }
          await post.close();
          await get.close();
          // Idle gaps of a few seconds between bursts: nginx keeps its pooled
          // upstream connections, and so must the server.
          if (burst < 3) await new Promise((r) => setTimeout(r, 1000 + n * 500));
        }
      }),
    );
    const stats = await app.stats();
    const log = await nginx.errorLog();
    expect(sent).to.equal(2000);
    expect(statuses).to.deep.equal({ 200: 2000 });
    // Every request reached the app over a pooled connection: a handful of them.
    expect(stats.requests).to.equal(2000);
    expect(stats.accepted).to.be.at.most(16);
    expect(stats.reusedRequests).to.be.at.least(2000 - 16);
    expect(stats.closed.idleTimeout).to.equal(0);
    expect(log).to.not.match(/upstream prematurely closed|reset by peer/);
    console.log(`      2000 requests over ${stats.accepted} upstream connection(s); statuses ${JSON.stringify(statuses)}`);
  });

  it('shows the misconfiguration the package prevents: a server idle timeout below nginx’s', async () => {
    // Node's own keep-alive, closing idle connections after 1 s + 1 s while nginx keeps
    // them pooled for 60 s. POST is not retried by nginx (non-idempotent).
    app = await startServerProcess('test-interop/fixtures/policy-server.ts', ['--plain', '--keep-alive-timeout', '1000']);
    nginx = await startNginx({ upstreams: [Number(new URL(app.url).port)], keepalive: 32 });
    // 1. Gaps right at the server's close: the race itself, lost now and then → 502.
    const race = await raceHarness(() => nodeLane(nginx.url, {}, 'POST'), {
      lanes: 25,
      triesPerLane: 6,
      gapMs: 2000,
      spreadMs: 3,
    });
    const upstreamErrors = ((await nginx.errorLog()).match(/upstream prematurely closed|reset by peer|broken pipe/g) ?? [])
      .length;
    // 2. One quiet client, gaps past the server's close: every pooled connection is
    //    closed under nginx, so each request needs a new one.
    await new Promise((r) => setTimeout(r, 2500));
    const before = (await app.usage())!.accepted!;
    const quiet = { lanes: 1, triesPerLane: 4, gapMs: 2500, spreadMs: 0 };
    const past = await raceHarness(() => nodeLane(nginx.url, {}, 'POST'), quiet);
    const reopened = (await app.usage())!.accepted! - before;
    console.log(
      `      server idle close 2 s < nginx 60 s: at the close ${race.tries} POSTs → ${JSON.stringify(race.statuses)} ` +
        `(${upstreamErrors} upstream error(s) in nginx's log); past it, ${reopened} new upstream connections for ${past.tries + 1} POSTs`,
    );
    await nginx.stop();
    await app.stop();

    // The same traffic against the package's defaults (idleTimeout 65 s > nginx's 60 s).
    app = await startServerProcess('test-interop/fixtures/policy-server.ts', []);
    nginx = await startNginx({ upstreams: [Number(new URL(app.url).port)], keepalive: 32 });
    const good = await raceHarness(() => nodeLane(nginx.url, {}, 'POST'), {
      lanes: 25,
      triesPerLane: 6,
      gapMs: 2000,
      spreadMs: 3,
    });
    const afterRace = await app.stats();
    const goodQuiet = await raceHarness(() => nodeLane(nginx.url, {}, 'POST'), quiet);
    const stats = await app.stats();
    console.log(
      `      idleTimeout 65 s > nginx 60 s: ${good.tries} POSTs → ${JSON.stringify(good.statuses)}; ` +
        `quiet client: ${stats.accepted - afterRace.accepted} new upstream connection(s) for ${goodQuiet.tries + 1} POSTs`,
    );
    expect(good.statuses).to.deep.equal({ 200: 150 });
    expect(good.errors).to.deep.equal([]);
    expect(goodQuiet.statuses).to.deep.equal({ 200: 4 });
    expect(stats.closed.idleTimeout).to.equal(0);
    expect(stats.accepted - afterRace.accepted).to.equal(0);
    expect(await nginx.errorLog()).to.not.match(/upstream prematurely closed|reset by peer|broken pipe/);
    // The misconfigured server closed every connection nginx had pooled for the quiet
    // client: each such close is a chance to lose the race (the 502s of run 1).
    expect(past.tries).to.equal(4);
    expect(reopened).to.equal(5);
  });
});
