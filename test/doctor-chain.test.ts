import { expect } from 'chai';
import { findingsOf } from '../src/doctor/analysis.js';
import { BehindError, chainOf, KNOWN_HOPS, parseBehind, type TimeoutValue } from '../src/doctor/chain.js';
import type { Diagnosis } from '../src/doctor/diagnose.js';
import { HEALTHY } from './helpers/diagnosis.js';

// SPEC §4, "The whole timeout chain": --behind's parsing, the order rule, and the
// findings it gives, as pure functions (the probes: test/doctor-timeouts.test.ts).

/** A healthy diagnosis (no idle probe) with the given timeouts and chain, to read the chain's findings from. */
function diagnosis(timeouts: NonNullable<Diagnosis['timeouts']>, behind: string): Omit<Diagnosis, 'findings'> {
  const { idle, ...healthy } = HEALTHY;
  void idle;
  return { ...healthy, timeouts, chain: chainOf(parseBehind(behind), timeouts.idle) };
}
const codes = (d: Omit<Diagnosis, 'findings'>) => findingsOf(d).map((f) => f.code);

describe('connection-doctor --behind (pure)', () => {
  it('parses hop:seconds, farthest first, and fills in each known default (assumed)', () => {
    expect(parseBehind('alb:60,nginx:75')).to.deep.equal([
      { name: 'alb', idleMs: 60_000, assumed: false },
      { name: 'nginx', idleMs: 75_000, assumed: false },
    ]);
    expect(parseBehind('ALB, my-proxy:2.5')).to.deep.equal([
      { name: 'alb', idleMs: 60_000, assumed: true },
      { name: 'my-proxy', idleMs: 2500, assumed: false },
    ]);
    for (const [name, hop] of Object.entries(KNOWN_HOPS)) {
      expect(parseBehind(name)).to.deep.equal([{ name, idleMs: hop.seconds * 1000, assumed: true }]);
    }
    expect(Object.keys(KNOWN_HOPS)).to.deep.equal(['alb', 'nlb', 'gcp', 'nginx', 'haproxy', 'envoy', 'cloudflare']);
  });

  for (const [given, reason] of [
    ['', /hop\[:seconds\]/],
    ['alb:60:1', /hop\[:seconds\]/],
    [':60', /hop\[:seconds\]/],
    ['alb,,nginx', /hop\[:seconds\]/],
    ['alb:', /seconds of 'alb' must be a number above 0; got ''/],
    ['alb:-5', /seconds of 'alb' must be a number above 0; got '-5'/],
    ['alb:sixty', /must be a number above 0; got 'sixty'/],
    ['alb:0', /must be a number above 0; got '0'/],
    ['my-proxy', /no known idle timeout for 'my-proxy'; give it as my-proxy:SECONDS/],
  ] as const) {
    it(`rejects --behind '${given}' with a reason naming the flag`, () => {
      expect(() => parseBehind(given)).to.throw(BehindError, reason);
      expect(() => parseBehind(given)).to.throw(/--behind/);
    });
  }

  it('a hop races when it keeps idle connections as long as the server, or longer; unknown past the probe', () => {
    const hops = parseBehind('a:4,b:5,c:6');
    const race = (server: TimeoutValue) => chainOf(hops, server).map((e) => e.race);
    expect(race(5000)).to.deep.equal([false, true, true]);
    expect(race(5001)).to.deep.equal([false, false, true]);
    expect(race(null)).to.deep.equal([false, false, false]); // closes after each response: nothing pooled
    expect(race({ longerThan: 5000 })).to.deep.equal([false, null, null]);
    expect(chainOf(parseBehind('nginx'), 65_000)).to.deep.equal([{ hop: 'nginx', idle: 60_000, assumed: true, race: false }]);
  });

  it('chain-race names the hop and both numbers, and the fix', () => {
    const d = diagnosis({ idle: 5000, headers: null, request: null }, 'alb:60,nginx');
    const found = findingsOf(d).filter((f) => f.code === 'chain-race');
    expect(found.map((f) => f.message.split(' ')[0])).to.deep.equal(['alb', 'nginx']);
    expect(found[1]!.message).to.include('nginx keeps idle connections to the server 60 s (its documented default, assumed)');
    expect(found[1]!.message).to.include('closes them after 5 s');
    expect(found[1]!.recommendation).to.include('idleTimeout: 65_000');
    expect(codes(diagnosis({ idle: 60_001, headers: null, request: null }, 'nginx'))).to.deep.equal([]);
  });

  it('request-timeout-cuts-uploads: only where the hops nearest the server stream bodies and let a client pause that long', () => {
    const t = (request: TimeoutValue) => ({ idle: 700_000, headers: null, request });
    expect(codes(diagnosis(t(30_000), 'alb'))).to.deep.equal(['request-timeout-cuts-uploads']);
    expect(codes(diagnosis(t(300_000), 'alb'))).to.deep.equal([]); // 300 s > ALB's 60 s
    expect(codes(diagnosis(t(30_000), 'alb,nginx'))).to.deep.equal([]); // nginx buffers the body
    expect(codes(diagnosis(t(30_000), 'nginx,alb'))).to.deep.equal(['request-timeout-cuts-uploads']);
    expect(codes(diagnosis(t(30_000), 'my-proxy:600'))).to.deep.equal([]); // unknown: no claim
    expect(codes(diagnosis(t({ longerThan: 120_000 }), 'alb'))).to.deep.equal([]);
  });

  it('headers-timeout-slow-clients: only where every hop passes the head through as it comes (a TCP load balancer)', () => {
    const t = (headers: TimeoutValue) => ({ idle: 700_000, headers, request: null });
    expect(codes(diagnosis(t(60_000), 'nlb'))).to.deep.equal(['headers-timeout-slow-clients']);
    expect(codes(diagnosis(t(60_000), 'alb,nlb'))).to.deep.equal([]); // the ALB reads the whole head first
    expect(codes(diagnosis(t(400_000), 'nlb'))).to.deep.equal([]);
  });
});
