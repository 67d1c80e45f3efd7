import { AssertionError } from 'node:assert';
import { formatConnectionId } from '../connection-id.js';
import type { RecordedRequest } from './recorder.js';

/** One request of a probe, as the client saw it (and the server, where it says). */
export interface ProbedRequest {
  status: number;
  /** The client socket that carried it: 1 for the first socket, 2 for the next… */
  socket: number;
  /** It went over a socket that had carried an earlier request. */
  reused: boolean;
  /** The server's `x-connection-id` (`<id>;req=<n>`), where it exposes one. */
  serverConnection?: string;
  /** The response's `Connection` header. */
  connection?: string;
  /** The response's `Keep-Alive` header. */
  keepAlive?: string;
  /** From sending the request to the end of the response. */
  ms: number;
  /** Set when a reused socket had been closed by the server and the request was retried on a new one. */
  retried?: string;
  /** Recorded requests (`recordConnections()`): what the client sent, and the request's position on its connection. */
  method?: string;
  path?: string;
  ordinal?: number;
}

/**
 * What a probe or a recorder saw: each request with the socket that carried it,
 * how many sockets (and server connections) there were, and where the client's
 * and the server's views disagree.
 */
export interface ConnectionReport {
  requests: ProbedRequest[];
  /** Distinct client sockets used. */
  sockets: number;
  /** Distinct server connections, where the server exposes `x-connection-id`. */
  serverConnections?: number;
  /**
   * Where the client's and the server's views of reuse differ (something in between
   * pools connections differently, e.g. a proxy), what differs.
   */
  disagreement?: string;
}

const COLUMNS = ['req', 'status', 'socket', 'reused', 'connection', 'keep-alive', 'server id', 'ms'];
const RECORDED_COLUMNS = ['req', 'method', 'path', 'conn', 'ordinal', 'status', 'connection', 'keep-alive', 'at ms'];

/** The report as a small aligned table, one row per request. */
export function formatReport(report: ConnectionReport): string {
  const recorded = report.requests.length > 0 && report.requests[0]!.method !== undefined;
  const columns = recorded ? RECORDED_COLUMNS : COLUMNS;
  const rows = report.requests.map((r, i) =>
    recorded
      ? [
          `#${i + 1}`,
          r.method!,
          r.path!,
          `conn#${r.socket}`,
          `${r.ordinal}${r.ordinal === 1 ? ' (new)' : ''}`,
          r.status ? String(r.status) : '-',
          r.connection ?? '-',
          r.keepAlive ?? '-',
          r.ms.toFixed(1),
        ]
      : [
          `#${i + 1}`,
          String(r.status),
          `sock#${r.socket}`,
          r.reused ? 'reused' : 'new',
          r.connection ?? '-',
          r.keepAlive ?? '-',
          r.serverConnection ?? '-',
          r.ms.toFixed(1),
        ],
  );
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) =>
    '  ' +
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const notes = report.requests.flatMap((r, i) => (r.retried ? [`  #${i + 1}: ${r.retried}`] : []));
  if (report.disagreement) notes.push(`  client and server disagree: ${report.disagreement}`);
  return [line(columns), ...rows.map(line), ...notes].join('\n');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** "the server answered Connection: close", where it did: the first thing to rule out. */
function closeHint(report: ConnectionReport): string {
  const closing = report.requests.find((r) => r.connection?.toLowerCase().includes('close'));
  return closing ? `; the server answered "Connection: ${closing.connection}"` : '';
}

/** Passes when every request after the first went over the first request's socket. */
export function assertReused(report: ConnectionReport): ConnectionReport {
  const first = report.requests[0]!.socket;
  const strays = report.requests.slice(1).filter((r) => r.socket !== first || !r.reused).length;
  if (strays === 0) return report;
  fail(
    `expected all ${report.requests.length} requests to reuse one connection, but ` +
      `${strays} of ${report.requests.length - 1} later requests did not (${plural(report.sockets, 'socket')} used${closeHint(report)})`,
    report,
    'reused',
  );
}

/** Passes when every request went over a new socket. */
export function assertReset(report: ConnectionReport): ConnectionReport {
  const reused = report.requests.filter((r) => r.reused).length;
  if (reused === 0 && report.sockets === report.requests.length) return report;
  fail(
    `expected each of ${report.requests.length} requests to use a new connection, but ` +
      `${reused} of ${report.requests.length} reused one (${plural(report.sockets, 'socket')} used)`,
    report,
    'reset',
  );
}

/** A report built from what a recorder saw: "socket" is the server-side connection. */
export function recordedReport(requests: readonly RecordedRequest[]): ConnectionReport {
  const t0 = requests[0]?.at ?? 0;
  const connections = new Set(requests.map((r) => r.connection)).size;
  return {
    requests: requests.map((r) => ({
      status: r.status ?? 0,
      socket: r.connection,
      reused: r.ordinal > 1,
      serverConnection: formatConnectionId(r.connection, r.ordinal),
      ...(r.connectionHeader !== undefined ? { connection: r.connectionHeader } : {}),
      ...(r.keepAliveHeader !== undefined ? { keepAlive: r.keepAliveHeader } : {}),
      ms: r.at - t0,
      method: r.method,
      path: r.path,
      ordinal: r.ordinal,
    })),
    sockets: connections,
    serverConnections: connections,
  };
}

/**
 * Recorded requests reused their connections: at least two requests, and every
 * connection among them carried more than one request (no request paid for a
 * connection of its own); with `connections`, at most that many were used.
 */
export function assertRecordedReused(
  report: ConnectionReport,
  limits: { requests?: number | undefined; connections?: number | undefined },
): ConnectionReport {
  checkRecordedCount(report, limits.requests, 'reused', assertRecordedReused);
  if (report.requests.length < 2) {
    fail(
      `expected at least 2 recorded requests to judge reuse, but ${plural(report.requests.length, 'request')} arrived`,
      report,
      'reused',
      assertRecordedReused,
    );
  }
  const single = [...groupByConnection(report)]
    .filter(([, rs]) => rs.length === 1 && rs[0]!.ordinal === 1)
    .map(([c]) => `conn#${c}`);
  if (single.length > 0) {
    fail(
      `expected every connection to carry more than one request, but ${single.join(', ')} carried only one ` +
        `(${plural(report.sockets, 'connection')} for ${plural(report.requests.length, 'request')}${closeHint(report)})`,
      report,
      'reused',
      assertRecordedReused,
    );
  }
  if (limits.connections !== undefined && report.sockets > limits.connections) {
    fail(
      `expected at most ${plural(limits.connections, 'connection')}, but the ${plural(report.requests.length, 'request')} used ${report.sockets}`,
      report,
      'reused',
      assertRecordedReused,
    );
  }
  return report;
}

/** Every recorded request came over a connection of its own. */
export function assertRecordedReset(report: ConnectionReport, limits: { requests?: number | undefined }): ConnectionReport {
  checkRecordedCount(report, limits.requests, 'reset', assertRecordedReset);
  const reused = report.requests.filter((r) => r.ordinal !== 1).length;
  if (report.requests.length > 0 && reused === 0 && report.sockets === report.requests.length) return report;
  fail(
    report.requests.length === 0
      ? 'expected recorded requests, but none arrived'
      : `expected each of ${plural(report.requests.length, 'request')} to arrive on a new connection, but ${reused} arrived on a reused one ` +
          `(${plural(report.sockets, 'connection')})`,
    report,
    'reset',
    assertRecordedReset,
  );
}

/** The function a failure's stack starts above (Error.captureStackTrace). */
type StackTop = (...args: never[]) => unknown;

/** `requests` in the options: the exact number expected, checked first, named as the assertion called. */
function checkRecordedCount(
  report: ConnectionReport,
  expected: number | undefined,
  kind: 'reused' | 'reset',
  caller: StackTop,
): void {
  if (expected !== undefined && report.requests.length !== expected) {
    fail(`expected ${plural(expected, 'recorded request')}, but ${report.requests.length} arrived`, report, kind, caller);
  }
}

function groupByConnection(report: ConnectionReport): Map<number, ProbedRequest[]> {
  const groups = new Map<number, ProbedRequest[]>();
  for (const r of report.requests) groups.set(r.socket, [...(groups.get(r.socket) ?? []), r]);
  return groups;
}

function fail(headline: string, report: ConnectionReport, expected: 'reused' | 'reset', caller?: StackTop): never {
  const err = new AssertionError({
    message: `${headline}\n\n${formatReport(report)}`,
    actual: report.requests.map((r) => r.socket),
    expected:
      expected === 'reused' ? report.requests.map(() => report.requests[0]!.socket) : report.requests.map((_, i) => i + 1),
    operator: expected === 'reused' ? 'expectReusedConnection' : 'expectResetConnection',
  });
  Error.captureStackTrace(err, caller ?? (expected === 'reused' ? assertReused : assertReset));
  throw err;
}
