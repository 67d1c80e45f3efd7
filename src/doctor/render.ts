// The doctor's human-readable report: one table, then the verdict and each finding.
import type { TimeoutValue } from './chain.js';
import type { Diagnosis } from './diagnose.js';

const yesNo = (ok: boolean, yes: string, no: string) => (ok ? yes : no);
const ms = (n: number) => `${n.toFixed(1)} ms`;

export function render(d: Diagnosis): string {
  const p = d.persistence;
  const rows: Array<[string, string]> = [
    ['HTTP/1.1 keep-alive by default', yesNo(p.http11KeptAlive, 'yes', 'no: closes after each response')],
    ['Connection / Keep-Alive sent', `${p.connectionHeader ?? '(none)'} / ${p.keepAliveHeader ?? '(none)'}`],
    [
      "client's Connection: close honoured",
      yesNo(p.clientCloseHonoured, 'yes (FIN after the response)', 'NO: connection left open'),
    ],
    ['HTTP/1.0 without keep-alive', p.http10WithoutKeepAlive === 'closed' ? 'closed (correct)' : 'KEPT OPEN'],
    ['HTTP/1.0 with keep-alive', p.http10WithKeepAlive],
    ['pipelined pair', p.pipelining],
  ];
  if (d.idle) {
    rows.push([
      'idle close enforced',
      d.idle.closesAfterEachResponse
        ? 'no idle period: the connection ends with each response'
        : d.idle.closedAfterMs === null
          ? `not within ${d.idle.maxIdleMs / 1000} s`
          : `after ${(d.idle.closedAfterMs / 1000).toFixed(1)} s${d.idle.closedWith === 'reset' ? ' (with a RESET)' : ''}`,
    ]);
  }
  if (d.timeouts) {
    const t = d.timeouts;
    // The idle probe's own row (above) says the same, with how the connection ended.
    if (!d.idle) rows.push(['idle timeout enforced', timeout(t.idle, 'no idle period: the connection ends with each response')]);
    rows.push(
      ['headers timeout enforced', timeout(t.headers, 'not measured (--timeouts)')],
      ['request timeout enforced', timeout(t.request, 'not measured (--timeouts)')],
    );
  }
  const { reused, fresh } = d.latency;
  rows.push(
    ['latency, reused connection', `p50 ${ms(reused.p50)}  p90 ${ms(reused.p90)}  p99 ${ms(reused.p99)}`],
    ['latency, fresh connection', `p50 ${ms(fresh.p50)}  p90 ${ms(fresh.p90)}  p99 ${ms(fresh.p99)}`],
    ['Nagle × delayed-ACK stall', d.latency.stall === 'none' ? 'none' : `FOUND (${d.latency.stall})`],
  );
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [`connection-doctor ${d.url}`, '', ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`), ''];
  if (d.timeouts && (typeof d.timeouts.headers === 'number' || typeof d.timeouts.request === 'number')) {
    lines.push(
      '  (a Node server checks headersTimeout and requestTimeout every connectionsCheckingInterval,',
      '   30 s by default: its 408 may come up to that much after the configured value)',
      '',
    );
  }
  if (d.chain) lines.push(...chainTable(d), '');
  if (d.findings.length === 0) {
    lines.push('verdict: healthy — nothing to fix.');
  } else {
    lines.push(`verdict: ${d.findings.length} finding(s)`);
    d.findings.forEach((f, i) => {
      lines.push('', `${i + 1}. [${f.code}] ${f.message}`, `   fix: ${f.recommendation}`);
    });
  }
  return lines.join('\n');
}

function timeout(value: TimeoutValue, none: string): string {
  if (value === null) return none;
  if (typeof value === 'number') return `${(value / 1000).toFixed(1)} s`;
  return `longer than ${(value.longerThan / 1000).toFixed(0)} s (the probe's bound, --max-wait)`;
}

/** Each hop, client side first, then the server: its idle timeout, and who closes first. */
function chainTable(d: Diagnosis): string[] {
  const rows: Array<[string, string, string]> = d.chain!.map((entry) => [
    entry.hop,
    // The sources of the assumed defaults: docs/doctor.md and KNOWN_HOPS.
    `${(entry.idle / 1000).toFixed(0)} s${entry.assumed ? ' (its default, assumed)' : ''}`,
    entry.race === true
      ? 'RACE: keeps idle connections as long as the server or longer'
      : entry.race === null
        ? 'cannot tell: the server kept its connection past the probe'
        : 'lets go before the server: ok',
  ]);
  rows.push(['server', timeout(d.timeouts!.idle, 'closes after each response'), 'measured']);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return [
    '  timeout chain (client → server; each must let go before the next one does)',
    ...rows.map(([hop, idle, verdict]) => `    ${hop.padEnd(w0)}  ${idle.padEnd(w1)}  ${verdict}`),
  ];
}
