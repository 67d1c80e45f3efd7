// connection-doctor's command line: parsing and running, as functions that return
// an exit status (src/doctor/cli.ts is the executable that calls them).
import { parseArgs } from 'node:util';
import { TOKEN } from '../headers.js';
import { BehindError, parseBehind, type Hop } from './chain.js';
import { diagnose, type Diagnosis, type DiagnoseOptions } from './diagnose.js';
import { render } from './render.js';
import { DOCTOR_SCHEMA_URL } from './schema.js';

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
  --timeouts       measure the idle, headers and request timeouts the server really
                   enforces, each on a connection of its own (waits up to --max-wait)
  --behind HOPS    the hops in front of the server, farthest first, nearest the server
                   last: hop[:seconds],… (alb, nlb, gcp, nginx, haproxy, envoy,
                   cloudflare, or any name with its seconds); finds the hop that
                   keeps idle connections as long as the server, or longer
  --max-wait MS    bound of each --timeouts / --behind probe (default 120000)
  --json           print one JSON document instead of the table
  -h, --help       this text

exit status: 0 nothing found, 1 findings, 2 bad usage or server unreachable`;

export class UsageError extends Error {}

/** An hour: a probe that waits longer is no probe a person waits for. */
const MAX_WAIT_MS = 3_600_000;

function parseUrl(given: string): URL {
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new UsageError(`not a URL: ${given}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`only http: and https: URLs can be diagnosed; got ${url.protocol}`);
  }
  return url;
}

function checkHeader(h: string): void {
  if (!TOKEN.test(h.split(':')[0]!) || !h.includes(':')) throw new UsageError(`--header must look like 'Name: value'; got ${h}`);
  if (/^(connection|content-length|host):/i.test(h)) {
    throw new UsageError(`--header cannot set ${h.split(':')[0]}: the doctor controls it`);
  }
}

function maxWaitOf(given: string): number {
  const maxWait = Number(given);
  if (!/^\d+$/.test(given) || maxWait < 1000 || maxWait > MAX_WAIT_MS) {
    throw new UsageError(`--max-wait must be a whole number of milliseconds from 1000 to ${MAX_WAIT_MS}; got ${given}`);
  }
  return maxWait;
}

function behindOf(given: string): Hop[] {
  try {
    return parseBehind(given);
  } catch (err) {
    if (err instanceof BehindError) throw new UsageError(err.message);
    throw err;
  }
}

/** The command line as options, `'help'` for --help; throws UsageError on bad usage. */
export function parse(argv: string[], progress: (message: string) => void): (DiagnoseOptions & { json: boolean }) | 'help' {
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
        timeouts: { type: 'boolean', default: false },
        behind: { type: 'string' },
        'max-wait': { type: 'string', default: '120000' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length !== 1) throw new UsageError(`expected one URL, got ${positionals.length}`);
  const url = parseUrl(positionals[0]!);
  const requests = Number(values.requests);
  if (!Number.isInteger(requests) || requests < 3 || requests > 10_000) {
    throw new UsageError(`--requests must be a whole number from 3 to 10000; got ${values.requests}`);
  }
  const maxIdle = Number(values['max-idle']);
  if (!Number.isFinite(maxIdle) || maxIdle < 100) {
    throw new UsageError(`--max-idle must be a number of milliseconds ≥ 100; got ${values['max-idle']}`);
  }
  const maxWait = maxWaitOf(values['max-wait']);
  const behind = values.behind === undefined ? [] : behindOf(values.behind);
  if (!TOKEN.test(values.method)) {
    throw new UsageError(`--method must be an HTTP method; got ${values.method}`);
  }
  for (const h of values.header) checkHeader(h);
  return {
    url,
    requests,
    method: values.method.toUpperCase(),
    data: values.data,
    headers: values.header,
    idle: values.idle,
    maxIdle,
    timeouts: values.timeouts,
    maxWait,
    behind,
    json: values.json,
    progress,
  };
}

export interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const PROCESS_OUTPUT: Output = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

/**
 * Runs the doctor on `argv` (without `node` and the script) and resolves with the
 * exit status: 0 nothing found, 1 findings, 2 bad usage or unreachable server.
 * It never exits the process itself.
 */
export async function main(argv: string[], out: Output = PROCESS_OUTPUT): Promise<number> {
  let options;
  try {
    options = parse(argv, (message) => out.stderr(`… ${message}\n`));
  } catch (err) {
    if (err instanceof UsageError) {
      out.stderr(`connection-doctor: ${err.message} (try --help)\n`);
      return 2;
    }
    throw err;
  }
  if (options === 'help') {
    out.stdout(`${USAGE}\n`);
    return 0;
  }
  let diagnosis: Diagnosis;
  try {
    diagnosis = await diagnose(options);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason =
      e.code === 'ECONNREFUSED' ? `nothing listens on ${options.url.host}` : (e.code ? `${e.code}: ` : '') + e.message;
    out.stderr(`connection-doctor: cannot diagnose ${options.url.href}: ${reason.split('\n')[0]}\n`);
    return 2;
  }
  out.stdout(`${options.json ? JSON.stringify({ $schema: DOCTOR_SCHEMA_URL, ...diagnosis }, null, 2) : render(diagnosis)}\n`);
  return diagnosis.findings.length === 0 ? 0 : 1;
}
