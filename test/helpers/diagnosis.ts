// Shared by the doctor's tests: a healthy diagnosis to patch, and the bound its
// timeout probes are held to (SPEC §4: within ±10 % or 200 ms, whichever is larger).
import { expect } from 'chai';
import type { Diagnosis } from '../../src/doctor/diagnose.js';

export const HEALTHY: Omit<Diagnosis, 'findings'> = {
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

/** A measured timeout within ±10 % or 200 ms of what the server enforces. */
export function expectEnforced(what: string, measured: unknown, enforced: number): void {
  const tolerance = Math.max(0.1 * enforced, 200);
  expect(measured, `${what}: measured ${JSON.stringify(measured)} ms, enforced ${enforced} ms`).to.be.a('number');
  expect(measured, what).to.be.within(enforced - tolerance, enforced + tolerance);
}
