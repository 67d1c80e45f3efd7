import { expect } from 'chai';
import fc from 'fast-check';
import { findingsOf, impliesClose, parseKeepAlive, stallSignature } from '../src/doctor/analysis.js';
import type { Diagnosis } from '../src/doctor/diagnose.js';
import { HEALTHY } from './helpers/diagnosis.js';

// The doctor's pure analysis, without sockets (test/doctor.test.ts runs it against servers).
type Patch = {
  persistence?: Partial<Diagnosis['persistence']>;
  idle?: Diagnosis['idle'];
  latency?: Partial<Diagnosis['latency']>;
};
/** HEALTHY with `patch` applied; `idle: undefined` in the patch removes the idle probe (no --idle). */
function build(patch: Patch): Omit<Diagnosis, 'findings'> {
  const { idle: healthyIdle, ...rest } = HEALTHY;
  const idle = 'idle' in patch ? patch.idle : healthyIdle;
  return {
    ...rest,
    persistence: { ...HEALTHY.persistence, ...patch.persistence },
    ...(idle !== undefined ? { idle } : {}),
    latency: { ...HEALTHY.latency, ...patch.latency },
  };
}
const codes = (patch: Patch) => findingsOf(build(patch)).map((f) => f.code);

describe("the doctor's analysis (pure)", () => {
  describe('parseKeepAlive', () => {
    const cases: Array<[string | undefined, { timeout: number | null; max: number | null }]> = [
      ['timeout=5', { timeout: 5, max: null }],
      ['timeout=5, max=100', { timeout: 5, max: 100 }],
      ['max=3,timeout=64', { timeout: 64, max: 3 }],
      ['Timeout = 7', { timeout: 7, max: null }],
      ['xtimeout=9', { timeout: null, max: null }],
      ['', { timeout: null, max: null }],
      [undefined, { timeout: null, max: null }],
    ];
    for (const [value, expected] of cases) {
      it(`${JSON.stringify(value)} → ${JSON.stringify(expected)}`, () => expect(parseKeepAlive(value)).to.deep.equal(expected));
    }
    it('property: reads back any timeout and max it is given', () => {
      fc.assert(
        fc.property(fc.nat(100_000), fc.nat(100_000), fc.boolean(), (timeout, max, maxFirst) => {
          const value = maxFirst ? `max=${max}, timeout=${timeout}` : `timeout=${timeout}, max=${max}`;
          const parsed = parseKeepAlive(value);
          return parsed.timeout === timeout && parsed.max === max;
        }),
      );
    });
  });

  describe('impliesClose', () => {
    const response = (statusLine: string, connection?: string) => ({
      statusLine,
      header: (n: string) => (n === 'connection' ? connection : undefined),
    });
    it('Connection: close, in any case and anywhere in a list', () => {
      expect(impliesClose(response('HTTP/1.1 200 OK', 'close'))).to.equal(true);
      expect(impliesClose(response('HTTP/1.1 200 OK', 'Upgrade, CLOSE'))).to.equal(true);
      expect(impliesClose(response('HTTP/1.1 200 OK', 'closed'))).to.equal(false);
    });
    it('only a status line that starts with HTTP/1.0, and only the keep-alive token itself, count', () => {
      expect(impliesClose(response('HTTP/1.1 200 HTTP/1.0 compatible'))).to.equal(false);
      expect(impliesClose(response('HTTP/1.0 200 OK', 'not-keep-alive'))).to.equal(true);
      expect(impliesClose(response('HTTP/1.0 200 OK', 'keep-alives'))).to.equal(true);
      expect(impliesClose(response('HTTP/1.0 200 OK', 'upgrade, Keep-Alive'))).to.equal(false);
    });
    it('an HTTP/1.0 response without keep-alive is an implied close; with it, not', () => {
      expect(impliesClose(response('HTTP/1.0 200 OK'))).to.equal(true);
      expect(impliesClose(response('HTTP/1.0 200 OK', 'Keep-Alive'))).to.equal(false);
      expect(impliesClose(response('HTTP/1.1 200 OK'))).to.equal(false);
    });
  });

  describe('stallSignature', () => {
    const around = (base: number, n = 20) => Array.from({ length: n }, (_, i) => base + (i % 5) * 0.5);
    it('a near-constant ~40 ms excess over fresh connections is the Linux delayed-ACK stall', () => {
      expect(stallSignature(around(42), around(1))).to.equal('delayed-ack-40ms');
    });
    it('a near-constant ~200 ms excess is the classic delayed ACK', () => {
      expect(stallSignature(around(201), around(1))).to.equal('delayed-ack-200ms');
    });
    it('measures the excess over the fresh baseline, not the reused latency alone', () => {
      // 142 ms against 100 ms fresh: a 42 ms excess, the 40 ms signature (not 242 ms, nor 142).
      expect(stallSignature(around(142), around(100))).to.equal('delayed-ack-40ms');
    });
    it('holds at its bounds: an excess from 25 to 60 ms (spread under 15), from 150 to 260 ms (spread under 60)', () => {
      const flat = (v: number) => Array.from({ length: 20 }, () => v);
      const spread = (base: number, width: number) => Array.from({ length: 21 }, (_, i) => base + (i * width) / 20);
      expect(stallSignature(flat(26), flat(1))).to.equal('delayed-ack-40ms');
      expect(stallSignature(flat(61), flat(1))).to.equal('delayed-ack-40ms');
      expect(stallSignature(flat(25.9), flat(1))).to.equal('none');
      expect(stallSignature(flat(61.1), flat(1))).to.equal('none');
      expect(stallSignature(flat(151), flat(1))).to.equal('delayed-ack-200ms');
      expect(stallSignature(flat(261), flat(1))).to.equal('delayed-ack-200ms');
      expect(stallSignature(flat(150.9), flat(1))).to.equal('none');
      expect(stallSignature(flat(261.1), flat(1))).to.equal('none');
      expect(stallSignature(flat(400), flat(1))).to.equal('none');
      // p90 − p10 of 0..W over 21 samples is 0.8 W: W = 18.75 gives exactly 15.
      expect(stallSignature(spread(35, 18.7), flat(1))).to.equal('delayed-ack-40ms');
      expect(stallSignature(spread(35, 18.75), flat(1))).to.equal('none');
      expect(stallSignature(spread(180, 74.9), flat(1))).to.equal('delayed-ack-200ms');
      expect(stallSignature(spread(180, 75), flat(1))).to.equal('none');
    });
    it('no excess, or an excess that wanders, is not the signature', () => {
      expect(stallSignature(around(1), around(1))).to.equal('none');
      expect(
        stallSignature(
          Array.from({ length: 20 }, (_, i) => 10 + i * 5),
          around(1),
        ),
      ).to.equal('none');
      expect(stallSignature(around(100), around(1))).to.equal('none');
    });
  });

  describe('findingsOf', () => {
    it('finds nothing on a healthy server', () => expect(codes({})).to.deep.equal([]));
    const cases: Array<[string, Patch, string[]]> = [
      [
        'no keep-alive',
        { persistence: { http11KeptAlive: false, connectionHeader: 'close', keepAliveHeader: null, advertisedTimeout: null } },
        ['no-keep-alive'],
      ],
      ['a client close ignored', { persistence: { clientCloseHonoured: false } }, ['client-close-ignored']],
      ['HTTP/1.0 kept open', { persistence: { http10WithoutKeepAlive: 'kept open' } }, ['http10-kept-open']],
      ['pipelining not answered', { persistence: { pipelining: 'not answered' } }, ['pipelining-broken']],
      ['closed after the first pipelined response is fine', { persistence: { pipelining: 'closed after the first' } }, []],
      ['no hint', { persistence: { keepAliveHeader: null, advertisedTimeout: null } }, ['no-keep-alive-hint']],
      ['a hint of 2 s', { persistence: { advertisedTimeout: 2 } }, ['hint-too-short']],
      [
        'a hint at the real close',
        { idle: { closedAfterMs: 64_000, maxIdleMs: 75_000, closedWith: 'fin' } },
        ['hint-not-below-close'],
      ],
      [
        'an idle close below 60 s',
        { persistence: { advertisedTimeout: 4 }, idle: { closedAfterMs: 5_000, maxIdleMs: 75_000, closedWith: 'fin' } },
        ['idle-timeout-short'],
      ],
      [
        'an idle reset',
        { persistence: { advertisedTimeout: 4 }, idle: { closedAfterMs: 5_000, maxIdleMs: 75_000, closedWith: 'reset' } },
        ['idle-reset', 'idle-timeout-short'],
      ],
      [
        'no idle period on a server that closes each response',
        {
          persistence: { http11KeptAlive: false, keepAliveHeader: null, advertisedTimeout: null },
          idle: { closedAfterMs: null, maxIdleMs: 75_000, closesAfterEachResponse: true },
        },
        ['no-keep-alive'],
      ],
      [
        'the stall',
        { latency: { stall: 'delayed-ack-40ms', reused: { p50: 42, p90: 43, p99: 44, samples: 50 } } },
        ['nagle-delayed-ack-stall'],
      ],
      [
        'reused slower without the signature',
        { latency: { reused: { p50: 9, p90: 20, p99: 30, samples: 50 } } },
        ['reused-slower'],
      ],
    ];
    cases.push(
      ['no idle probe (no --idle)', { idle: undefined }, []],
      ['an idle close not seen within the bound, under a hint', { idle: { closedAfterMs: null, maxIdleMs: 8_000 } }, []],
      [
        'an idle close at exactly 60 s is not short',
        { persistence: { advertisedTimeout: 58 }, idle: { closedAfterMs: 60_000, maxIdleMs: 75_000, closedWith: 'fin' } },
        [],
      ],
      [
        'an idle close just under 60 s is',
        { persistence: { advertisedTimeout: 58 }, idle: { closedAfterMs: 59_999, maxIdleMs: 75_000, closedWith: 'fin' } },
        ['idle-timeout-short'],
      ],
      [
        'a hint one second below the close is safe',
        { persistence: { advertisedTimeout: 64 }, idle: { closedAfterMs: 64_001, maxIdleMs: 75_000, closedWith: 'fin' } },
        [],
      ],
      [
        'no reused-slower verdict on a server that does not keep connections',
        {
          persistence: { http11KeptAlive: false, connectionHeader: 'close', keepAliveHeader: null, advertisedTimeout: null },
          latency: { reused: { p50: 9, p90: 10, p99: 11, samples: 50 } },
        },
        ['no-keep-alive'],
      ],
      [
        'reused 1.2× fresh is not slower (ratio bound)',
        {
          latency: { reused: { p50: 24, p90: 25, p99: 26, samples: 50 }, fresh: { p50: 20, p90: 21, p99: 22, samples: 50 } },
        },
        [],
      ],
      [
        'reused 23 ms against 20 ms fresh is not slower',
        {
          latency: { reused: { p50: 23, p90: 25, p99: 26, samples: 50 }, fresh: { p50: 20, p90: 21, p99: 22, samples: 50 } },
        },
        [],
      ],
      [
        'reused 2 ms above fresh is not slower (difference bound)',
        { latency: { reused: { p50: 3, p90: 4, p99: 5, samples: 50 }, fresh: { p50: 1, p90: 1, p99: 2, samples: 50 } } },
        [],
      ],
      [
        'reused 0.5 ms above fresh is not slower',
        { latency: { reused: { p50: 1.5, p90: 2, p99: 3, samples: 50 }, fresh: { p50: 1, p90: 1, p99: 2, samples: 50 } } },
        [],
      ],
    );
    for (const [label, patch, expected] of cases) {
      it(`${label} → ${expected.join(', ') || 'nothing'}`, () => expect(codes(patch)).to.deep.equal(expected));
    }
    it('says what it measured, in seconds and milliseconds, in each message', () => {
      const message = (patch: Patch, code: string) => {
        const found = findingsOf(build(patch)).find((f) => f.code === code);
        expect(found, code).to.not.equal(undefined);
        return `${found!.message}\n${found!.recommendation}`;
      };
      const closeEach = { http11KeptAlive: false, keepAliveHeader: null, advertisedTimeout: null };
      expect(message({ persistence: { ...closeEach, connectionHeader: 'close' } }, 'no-keep-alive')).to.match(
        /^the server closes HTTP\/1\.1 connections after each response \(Connection: close\); every request/,
      );
      expect(message({ persistence: { ...closeEach, connectionHeader: null } }, 'no-keep-alive')).to.match(
        /^the server closes HTTP\/1\.1 connections after each response; every request pays/,
      );
      expect(message({ persistence: { clientCloseHonoured: false } }, 'client-close-ignored')).to.match(/RFC 9112 §9\.6/);
      expect(message({ persistence: { http10WithoutKeepAlive: 'kept open' } }, 'http10-kept-open')).to.match(
        /HTTP\/1\.0 request without Connection: keep-alive[\s\S]*persist only when the client asks/,
      );
      expect(message({ persistence: { ...closeEach, connectionHeader: null } }, 'no-keep-alive')).to.match(
        /persistence is the HTTP\/1\.1 default \(RFC 9112 §9\.3\)[\s\S]*app\.use\(connectionPolicy\(\)\) from express-connection-policy keeps/,
      );
      expect(message({ persistence: { pipelining: 'not answered' } }, 'pipelining-broken')).to.match(
        /^two pipelined requests on one connection/,
      );
      expect(message({ persistence: { pipelining: 'not answered' } }, 'pipelining-broken')).to.match(
        /in order \(RFC 9112 §9\.3\.2\)/,
      );
      expect(message({ persistence: { keepAliveHeader: null, advertisedTimeout: null } }, 'no-keep-alive-hint')).to.match(
        /no Keep-Alive: timeout hint[\s\S]*advertise: true/,
      );
      expect(message({ persistence: { advertisedTimeout: 2 } }, 'hint-too-short')).to.match(
        /^Keep-Alive: timeout=2 switches reuse off[\s\S]*65 s/,
      );
      expect(message({ idle: { closedAfterMs: 5_000, maxIdleMs: 75_000, closedWith: 'fin' } }, 'hint-not-below-close')).to.match(
        /advertises timeout=64 s but closes idle connections after 5\.0 s[\s\S]*floor\(idleTimeout \/ 1000\) − 1/,
      );
      expect(message({ idle: { closedAfterMs: 4_500, maxIdleMs: 75_000, closedWith: 'reset' } }, 'idle-reset')).to.match(
        /with a reset \(after 4\.5 s\), not a FIN[\s\S]*with a FIN/,
      );
      expect(message({ idle: { closedAfterMs: 4_500, maxIdleMs: 75_000, closedWith: 'fin' } }, 'idle-timeout-short')).to.match(
        /closed after 4\.5 s, less than the 60 s[\s\S]*idleTimeout: 65_000/,
      );
      const stall = (kind: Diagnosis['latency']['stall'], p50: number) =>
        message({ latency: { stall: kind, reused: { p50, p90: p50, p99: p50, samples: 50 } } }, 'nagle-delayed-ack-stall');
      expect(stall('delayed-ack-40ms', 42)).to.match(
        /near-constant ~40 ms \(Linux delayed ACK\): p50 42\.0 ms reused against 1\.3 ms fresh/,
      );
      expect(stall('delayed-ack-200ms', 201)).to.match(/near-constant ~200 ms \(delayed ACK\): p50 201\.0 ms/);
      expect(stall('delayed-ack-40ms', 42)).to.match(/TCP_NODELAY[\s\S]*noDelay: true/);
      expect(message({ latency: { reused: { p50: 9, p90: 20, p99: 30, samples: 50 } } }, 'reused-slower')).to.match(
        /\(p50 9\.0 ms against 1\.3 ms\), without the delayed-ACK signature[\s\S]*per-connection state/,
      );
    });
    it('every finding says what to do', () => {
      for (const f of findingsOf({
        ...HEALTHY,
        persistence: { ...HEALTHY.persistence, clientCloseHonoured: false, http10WithoutKeepAlive: 'kept open' },
      })) {
        expect(f.message).to.be.a('string').and.not.equal('');
        expect(f.recommendation).to.be.a('string').and.not.equal('');
      }
    });
  });
});
