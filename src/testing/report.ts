import { AssertionError } from 'node:assert';

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
}

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

const COLUMNS = ['req', 'status', 'socket', 'reused', 'connection', 'keep-alive', 'server id', 'ms'] as const;

/** The report as a small aligned table, one row per request. */
export function formatReport(report: ConnectionReport): string {
  const rows = report.requests.map((r, i) => [
    `#${i + 1}`,
    String(r.status),
    `sock#${r.socket}`,
    r.reused ? 'reused' : 'new',
    r.connection ?? '-',
    r.keepAlive ?? '-',
    r.serverConnection ?? '-',
    r.ms.toFixed(1),
  ]);
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => '  ' + cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const notes = report.requests.flatMap((r, i) => (r.retried ? [`  #${i + 1}: ${r.retried}`] : []));
  if (report.disagreement) notes.push(`  client and server disagree: ${report.disagreement}`);
  return [line(COLUMNS), ...rows.map(line), ...notes].join('\n');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Passes when every request after the first went over the first request's socket. */
export function assertReused(report: ConnectionReport): ConnectionReport {
  const first = report.requests[0]!.socket;
  const strays = report.requests.slice(1).filter((r) => r.socket !== first || !r.reused).length;
  if (strays === 0) return report;
  const closing = report.requests.find((r) => r.connection?.toLowerCase().includes('close'));
  const hint = closing ? `; the server answered "Connection: ${closing.connection}"` : '';
  fail(
    `expected all ${report.requests.length} requests to reuse one connection, but ` +
      `${strays} of ${report.requests.length - 1} later requests did not (${plural(report.sockets, 'socket')} used${hint})`,
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

function fail(headline: string, report: ConnectionReport, expected: 'reused' | 'reset'): never {
  const err = new AssertionError({
    message: `${headline}\n\n${formatReport(report)}`,
    actual: report.requests.map((r) => r.socket),
    expected:
      expected === 'reused'
        ? report.requests.map(() => report.requests[0]!.socket)
        : report.requests.map((_, i) => i + 1),
    operator: expected === 'reused' ? 'expectReusedConnection' : 'expectResetConnection',
  });
  Error.captureStackTrace(err, expected === 'reused' ? assertReused : assertReset);
  throw err;
}
