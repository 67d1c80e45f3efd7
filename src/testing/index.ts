/**
 * express-connection-policy/testing: one-line assertions that a client reused its
 * connection, or that a server closed after every response. Framework-agnostic:
 * they resolve with a report or reject with an `AssertionError`.
 */
import { probe, resolveProbeOptions, type ProbeOptions } from './probe.js';
import { assertReset, assertReused, type ConnectionReport } from './report.js';
import type { ProbeTarget } from './target.js';

export type { ProbeOptions } from './probe.js';
export type { ConnectionReport, ProbedRequest } from './report.js';
export { formatReport } from './report.js';
export type { ProbeTarget, SupertestAgentLike } from './target.js';

/**
 * Sends `requests` sequential requests over one keep-alive client and reports which
 * socket carried each (and, where the server exposes `x-connection-id`, the
 * server's view). A target that is not listening is started on 127.0.0.1 for the
 * probe and closed afterwards.
 */
export async function probeConnections(target: ProbeTarget, options?: ProbeOptions): Promise<ConnectionReport> {
  return probe(target, resolveProbeOptions('probeConnections()', options));
}

/** Resolves with the report when every request after the first reused the first request's socket. */
export async function expectReusedConnection(target: ProbeTarget, options?: ProbeOptions): Promise<ConnectionReport> {
  return assertReused(await probe(target, resolveProbeOptions('expectReusedConnection()', options)));
}

/** Resolves with the report when every request used a new socket. */
export async function expectResetConnection(target: ProbeTarget, options?: ProbeOptions): Promise<ConnectionReport> {
  return assertReset(await probe(target, resolveProbeOptions('expectResetConnection()', options)));
}
