#!/usr/bin/env node
// connection-doctor: how does this HTTP/1.1 server handle connections?
//
//   npx connection-doctor http://127.0.0.1:4566/ [--requests 30] [--method POST]
//       [--data BODY] [--header 'Name: value']… [--idle [--max-idle 75000]] [--json]
//
// Exit status: 0 nothing found, 1 findings, 2 bad usage or unreachable server.
import { parseArgs } from 'node:util';
import { TOKEN } from '../headers.js';
import { findingsOf, Prober, type Diagnosis, type DiagnoseOptions } from './diagnose.js';

const USAGE = `usage: connection-doctor <url> [options]

Diagnoses how an HTTP/1.1 server handles connections: persistence, what it
advertises, the idle timeout it really enforces, and the Nagle × delayed-ACK
stall on reused connections.

options:
  --requests N     sequential requests per latency series (default 30)
  --method M       request method (default GET)
  --data BODY      request body (sent with every request)
  --header 'H: v'  extra request header (repeatable)
  --idle           also measure the idle close the server enforces (waits up to --max-idle)
  --max-idle MS    bound of the --idle probe (default 75000)
  --json           print one JSON document instead of the table
  -h, --help       this text

exit status: 0 nothing found, 1 findings, 2 bad usage or server unreachable`;

class UsageError extends Error {}

function parse(argv: string[]): DiagnoseOptions & { json: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        requests: { type: 'string', default: '30' },
        method: { type: 'string', default: 'GET' },
        data: { type: 'string' },
        header: { type: 'string', multiple: true, default: [] },
        idle: { type: 'boolean', default: false },
        'max-idle': { type: 'string', default: '75000' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (positionals.length !== 1) throw new UsageError(`expected one URL, got ${positionals.length}`);
  let url: URL;
  try {
    url = new URL(positionals[0]!);
  } catch {
    throw new UsageError(`not a URL: ${positionals[0]}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`only http: and https: URLs can be diagnosed; got ${url.protocol}`);
  }
  const requests = Number(values.requests);
  if (!Number.isInteger(requests) || requests < 3 || requests > 10_000) {
    throw new UsageError(`--requests must be a whole number from 3 to 10000; got ${values.requests}`);
  }
  const maxIdle = Number(values['max-idle']);
  if (!Number.isFinite(maxIdle) || maxIdle < 100) {
    throw new UsageError(`--max-idle must be a number of milliseconds ≥ 100; got ${values['max-idle']}`);
  }
  if (!TOKEN.test(values.method)) {
    throw new UsageError(`--method must be an HTTP method; got ${values.method}`);
  }
  for (const h of values.header) {
    if (!TOKEN.test(h.split(':')[0]!) || !h.includes(':')) throw new UsageError(`--header must look like 'Name: value'; got ${h}`);
    if (/^(connection|content-length|host):/i.test(h)) {
      throw new UsageError(`--header cannot set ${h.split(':')[0]}: the doctor controls it`);
    }
  }
  return {
    url,
    requests,
    method: values.method.toUpperCase(),
    data: values.data,
    headers: values.header,
    idle: values.idle,
    maxIdle,
    json: values.json,
    progress: (message) => process.stderr.write(`… ${message}\n`),
  };
}

export async function diagnose(options: DiagnoseOptions): Promise<Diagnosis> {
  const prober = new Prober(options);
  const persistence = await prober.persistence();
  const idle = options.idle ? await prober.idle() : undefined;
  const latency = await prober.latency();
  const partial = { url: options.url.href, persistence, ...(idle ? { idle } : {}), latency };
  return { ...partial, findings: findingsOf(partial) };
}

const yesNo = (ok: boolean, yes: string, no: string) => (ok ? yes : no);
const ms = (n: number) => `${n.toFixed(1)} ms`;

export function render(d: Diagnosis): string {
  const p = d.persistence;
  const rows: Array<[string, string]> = [
    ['HTTP/1.1 keep-alive by default', yesNo(p.http11KeptAlive, 'yes', 'no: closes after each response')],
    ['Connection / Keep-Alive sent', `${p.connectionHeader ?? '(none)'} / ${p.keepAliveHeader ?? '(none)'}`],
    ["client's Connection: close honoured", yesNo(p.clientCloseHonoured, 'yes (FIN after the response)', 'NO: connection left open')],
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

async function main(): Promise<void> {
  let options;
  try {
    options = parse(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`connection-doctor: ${err.message} (try --help)\n`);
      process.exit(2);
    }
    throw err;
  }
  let diagnosis: Diagnosis;
  try {
    diagnosis = await diagnose(options);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason = e.code === 'ECONNREFUSED' ? `nothing listens on ${options.url.host}` : (e.code ? `${e.code}: ` : '') + e.message;
    process.stderr.write(`connection-doctor: cannot diagnose ${options.url.href}: ${reason.split('\n')[0]}\n`);
    process.exit(2);
  }
  console.log(options.json ? JSON.stringify(diagnosis, null, 2) : render(diagnosis));
  process.exit(diagnosis.findings.length === 0 ? 0 : 1);
}

void main();
