import { expect } from 'chai';
import { startServerProcess, type ServerProcess } from '../bench/lib/server-process.js';
import { nodeLane, undiciLane } from './helpers/lanes.js';
import { raceHarness, type RaceOutcome } from './helpers/race.js';

// The keep-alive race (SPEC §1 `advertise`): a client that reuses an idle connection
// at the moment the server closes it gets ECONNRESET / "other side closed". With the
// hint one second below the real close, clients that honour it let go first.
const IDLE = 3000; // advertises timeout=2
const RUN = { lanes: 25, triesPerLane: 6, gapMs: IDLE, spreadMs: 3 }; // 150 tries per client

function summary(name: string, o: RaceOutcome): string {
  const codes = [...new Set(o.errors.map((e) => e.code))].join(', ');
  return `${name}: ${o.tries} tries, ${o.reused} reused, ${o.errors.length} errors${codes ? ` (${codes})` : ''}`;
}

describe('the keep-alive race', function () {
  this.timeout(120_000);
  let server: ServerProcess;
  afterEach(() => server?.stop());

  describe('with advertise (the default)', () => {
    beforeEach(async () => {
      server = await startServerProcess('test-interop/fixtures/policy-server.ts', ['--idle-timeout', String(IDLE)]);
    });

    it('Node http.Agent with a timeout: zero errors over 150 well-timed reuses', async () => {
      const o = await raceHarness(() => nodeLane(server.url, { timeout: 60_000 }), RUN);
      console.log(`      ${summary('http.Agent({ keepAlive, timeout })', o)}`);
      expect(o.tries).to.equal(150);
      expect(o.errors).to.deep.equal([]);
    });

    it('undici: zero errors over 150 well-timed reuses', async () => {
      const o = await raceHarness(() => undiciLane(server.url), RUN);
      console.log(`      ${summary('undici Pool', o)}`);
      expect(o.tries).to.equal(150);
      expect(o.errors).to.deep.equal([]);
    });

    it('a plain new http.Agent({ keepAlive: true }) ignores the hint and still hits the race', async () => {
      // Node's agent honours a hint only when created with a `timeout`; this one keeps the
      // socket for ever and races the server's close. docs/troubleshooting.md gives the client-side fix.
      // The race is lost by chance: up to three rounds of 150 tries until it shows
      // (one round of 150 found it 31 times in one CI run and none in another).
      let o = await raceHarness(() => nodeLane(server.url), RUN);
      for (let round = 1; round < 3 && o.errors.length === 0; round++) o = await raceHarness(() => nodeLane(server.url), RUN);
      console.log(`      ${summary('plain http.Agent({ keepAlive: true })', o)}`);
      expect(o.tries).to.equal(150);
      expect(o.reused).to.be.greaterThan(0);
      expect(o.errors.length).to.be.greaterThan(0);
      for (const e of o.errors) expect(e.code).to.match(/ECONNRESET|EPIPE/);
    });
  });

  describe('with advertise: false (proves the harness can fail)', () => {
    beforeEach(async () => {
      server = await startServerProcess('test-interop/fixtures/policy-server.ts', [
        '--idle-timeout',
        String(IDLE),
        '--advertise',
        'false',
      ]);
    });

    it('Node http.Agent with a timeout hits the race', async () => {
      const o = await raceHarness(() => nodeLane(server.url, { timeout: 60_000 }), RUN);
      console.log(`      ${summary('http.Agent({ keepAlive, timeout }), no hint', o)}`);
      expect(o.errors.length).to.be.greaterThan(0);
      for (const e of o.errors) expect(e.code).to.match(/ECONNRESET|EPIPE/);
    });

    it('undici hits the race', async () => {
      const o = await raceHarness(() => undiciLane(server.url), RUN);
      console.log(`      ${summary('undici Pool, no hint', o)}`);
      expect(o.errors.length).to.be.greaterThan(0);
      for (const e of o.errors) expect(e.code).to.match(/UND_ERR_SOCKET|ECONNRESET|EPIPE/);
    });
  });
});
