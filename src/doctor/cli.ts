#!/usr/bin/env node
// connection-doctor: how does this HTTP/1.1 server handle connections?
//
//   npx connection-doctor http://127.0.0.1:4566/ [--requests 30] [--method POST]
//       [--data BODY] [--header 'Name: value']… [--idle [--max-idle 75000]] [--json]
//
// Exit status: 0 nothing found, 1 findings, 2 bad usage or unreachable server.
import { parseArgs } from 'node:util';
import { TOKEN } from '../headers.js';
import { diagnose, type Diagnosis, type DiagnoseOptions } from './diagnose.js';
import { render } from './render.js';

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
    if (!TOKEN.test(h.split(':')[0]!) || !h.includes(':'))
      throw new UsageError(`--header must look like 'Name: value'; got ${h}`);
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
    const reason =
      e.code === 'ECONNREFUSED' ? `nothing listens on ${options.url.host}` : (e.code ? `${e.code}: ` : '') + e.message;
    process.stderr.write(`connection-doctor: cannot diagnose ${options.url.href}: ${reason.split('\n')[0]}\n`);
    process.exit(2);
  }
  console.log(options.json ? JSON.stringify(diagnosis, null, 2) : render(diagnosis));
  process.exit(diagnosis.findings.length === 0 ? 0 : 1);
}

void main();
