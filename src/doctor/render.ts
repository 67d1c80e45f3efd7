// The doctor's human-readable report: one table, then the verdict and each finding.
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
  const { reused, fresh } = d.latency;
  rows.push(
    ['latency, reused connection', `p50 ${ms(reused.p50)}  p90 ${ms(reused.p90)}  p99 ${ms(reused.p99)}`],
    ['latency, fresh connection', `p50 ${ms(fresh.p50)}  p90 ${ms(fresh.p90)}  p99 ${ms(fresh.p99)}`],
    ['Nagle × delayed-ACK stall', d.latency.stall === 'none' ? 'none' : `FOUND (${d.latency.stall})`],
  );
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [`connection-doctor ${d.url}`, '', ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`), ''];
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
