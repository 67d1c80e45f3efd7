/**
 * express-connection-policy/testing: one-line assertions that a client reused its
 * connection, or that a server closed after every response. Framework-agnostic:
 * they resolve with a report or reject with an `AssertionError`.
 */
import { checkNumber, checkOptionsObject } from '../validate.js';
import { probe, resolveProbeOptions, type ProbeOptions } from './probe.js';
import { isRecorder, type ConnectionRecorder } from './recorder.js';
import {
  assertRecordedReset,
  assertRecordedReused,
  assertReset,
  assertReused,
  recordedReport,
  type ConnectionReport,
} from './report.js';
import type { ProbeTarget } from './target.js';

export type { ProbeOptions } from './probe.js';
export type { ConnectionReport, ProbedRequest } from './report.js';
export { formatReport } from './report.js';
export type { ProbeTarget, SupertestAgentLike } from './target.js';
export { recordConnections } from './recorder.js';
export type { ConnectionRecorder, RecordedRequest, RecordTarget } from './recorder.js';

/** Options when the target is a recorder: what was recorded is judged, nothing is sent. */
export interface RecordedOptions {
  /** The exact number of requests expected to have been recorded. */
  requests?: number | undefined;
  /** `expectReusedConnection` only: at most this many distinct connections. */
  connections?: number | undefined;
}

function recordedLimits(where: string, options: RecordedOptions | undefined, names: readonly string[]): RecordedOptions {
  const given = checkOptionsObject(where, options, names);
  const limits: RecordedOptions = {};
  for (const name of names as Array<keyof RecordedOptions>) {
    if (given[name] !== undefined)
      limits[name] = checkNumber(where, name, given[name], { integer: true, min: 1, allowed: 'an integer ≥ 1' });
  }
  return limits;
}

/**
 * Sends `requests` sequential requests over one keep-alive client and reports which
 * socket carried each (and, where the server exposes `x-connection-id`, the
 * server's view). A target that is not listening is started on 127.0.0.1 for the
 * probe and closed afterwards.
 */
export async function probeConnections(target: ProbeTarget, options?: ProbeOptions): Promise<ConnectionReport> {
  return probe(target, resolveProbeOptions('probeConnections()', options));
}

/** A recorder is judged on what it recorded; any other target is probed first. */
async function judge(
  where: string,
  target: ProbeTarget | ConnectionRecorder,
  options: ProbeOptions | RecordedOptions | undefined,
  recordedNames: ReadonlyArray<keyof RecordedOptions>,
  assertRecorded: (report: ConnectionReport, limits: RecordedOptions) => ConnectionReport,
  assertProbed: (report: ConnectionReport) => ConnectionReport,
): Promise<ConnectionReport> {
  if (isRecorder(target)) {
    return assertRecorded(recordedReport(target.requests), recordedLimits(where, options, recordedNames));
  }
  return assertProbed(await probe(target, resolveProbeOptions(where, options)));
}

/**
 * Resolves with the report when every request after the first reused the first
 * request's socket. With a recorder: when the recorded requests (at least two)
 * arrived on connections that each carried more than one, and, with
 * `{ connections: N }`, on at most N connections.
 */
export async function expectReusedConnection(target: ConnectionRecorder, options?: RecordedOptions): Promise<ConnectionReport>;
export async function expectReusedConnection(target: ProbeTarget, options?: ProbeOptions): Promise<ConnectionReport>;
export async function expectReusedConnection(
  target: ProbeTarget | ConnectionRecorder,
  options?: ProbeOptions | RecordedOptions,
): Promise<ConnectionReport> {
  return judge('expectReusedConnection()', target, options, ['requests', 'connections'], assertRecordedReused, assertReused);
}

/**
 * Resolves with the report when every request used a new socket. With a recorder:
 * when every recorded request arrived on a connection of its own.
 */
export async function expectResetConnection(target: ConnectionRecorder, options?: RecordedOptions): Promise<ConnectionReport>;
export async function expectResetConnection(target: ProbeTarget, options?: ProbeOptions): Promise<ConnectionReport>;
export async function expectResetConnection(
  target: ProbeTarget | ConnectionRecorder,
  options?: ProbeOptions | RecordedOptions,
): Promise<ConnectionReport> {
  return judge('expectResetConnection()', target, options, ['requests'], assertRecordedReset, assertReset);
}
