import { expect } from 'chai';
import fc from 'fast-check';
import { findingsOf, impliesClose, parseKeepAlive, stallSignature } from '../src/doctor/analysis.js';
import type { Diagnosis } from '../src/doctor/diagnose.js';

// The doctor's pure analysis, without sockets (test/doctor.test.ts runs it against servers).
const HEALTHY: Omit<Diagnosis, 'findings'> = {
  url: 'http://127.0.0.1:1/',
  persistence: {
    http11KeptAlive: true,
    connectionHeader: 'keep-alive',
    keepAliveHeader: 'timeout=64',
    advertisedTimeout: 64,
    advertisedMax: null,
    clientCloseHonoured: true,
    http10WithoutKeepAlive: 'closed',
    http10WithKeepAlive: 'kept alive',
    pipelining: 'answered',
  },
  idle: { closedAfterMs: 65_000, maxIdleMs: 75_000, closedWith: 'fin' },
  latency: {
    reused: { p50: 1, p90: 1.2, p99: 2, samples: 50 },
    fresh: { p50: 1.3, p90: 1.5, p99: 3, samples: 50 },
    stall: 'none',
  },
};
type Patch = {
  persistence?: Partial<Diagnosis['persistence']>;
  idle?: Diagnosis['idle'];
  latency?: Partial<Diagnosis['latency']>;
};
const codes = (patch: Patch) =>
  findingsOf({
    ...HEALTHY,
    persistence: { ...HEALTHY.persistence, ...patch.persistence },
    ...(patch.idle !== undefined ? { idle: patch.idle } : {}),
    latency: { ...HEALTHY.latency, ...patch.latency },
  }).map((f) => f.code);

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
    for (const [label, patch, expected] of cases) {
      it(`${label} → ${expected.join(', ') || 'nothing'}`, () => expect(codes(patch)).to.deep.equal(expected));
    }
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
