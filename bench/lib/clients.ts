// Real HTTP clients, each sending `n` sequential requests over one session (one
// keep-alive pool that may hold a single connection) and returning each request's
// latency in ms. The request is the one boto3 sends for SQS ListQueues.
import { execFile, spawnSync } from 'node:child_process';
import http from 'node:http';
import { Client as UndiciClient } from 'undici';

export const BODY = 'Action=ListQueues&Version=2012-11-05';
const HEADERS = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };

export interface HttpClient {
  name: string;
  /** Why it cannot run here (with the command that installs it), or undefined. */
  unavailable(): string | undefined;
  run(url: string, n: number): Promise<number[]>;
}

const now = () => Number(process.hrtime.bigint()) / 1e6;

export const nodeAgent: HttpClient = {
  name: 'node http.Agent',
  unavailable: () => undefined,
  async run(url, n) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const times: number[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const t0 = now();
        await new Promise<void>((resolve, reject) => {
          const req = http.request(url, { method: 'POST', agent, headers: HEADERS }, (res) => {
            res.resume();
            res.once('end', resolve);
            res.once('error', reject);
          });
          req.once('error', reject);
          req.end(BODY);
        });
        times.push(now() - t0);
      }
    } finally {
      agent.destroy();
    }
    return times;
  },
};

export const undici: HttpClient = {
  name: 'undici',
  unavailable: () => undefined,
  async run(url, n) {
    const origin = new URL(url).origin;
    const client = new UndiciClient(origin);
    const times: number[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const t0 = now();
        const res = await client.request({ path: '/', method: 'POST', body: BODY, headers: HEADERS });
        await res.body.text();
        times.push(now() - t0);
      }
    } finally {
      await client.close();
    }
    return times;
  },
};

function commandWorks(command: string, args: string[]): boolean {
  const r = spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

function runLines(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${command} failed: ${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

export const curl: HttpClient = {
  name: 'curl',
  unavailable: () => (commandWorks('curl', ['--version']) ? undefined : 'not installed: apt-get install -y curl'),
  async run(url, n) {
    // Many URLs on one command line: one curl process, one connection pool.
    const args = ['-s', '-d', BODY, '-H', `content-type: ${HEADERS['content-type']}`, '-w', '\\n#T=%{time_total}\\n'];
    const urls = Array.from({ length: n }, () => url);
    const out = await runLines('curl', [...args, ...urls]);
    return [...out.matchAll(/#T=([\d.]+)/g)].map((m) => Number(m[1]) * 1000);
  },
};

/** Debian's python3 (where python3-requests and python3-boto3 install), else the one on PATH. */
function pythonWith(module: string): string | undefined {
  for (const python of ['/usr/bin/python3', 'python3']) {
    if (commandWorks(python, ['-c', `import ${module}`])) return python;
  }
  return undefined;
}

const PY_REQUESTS = `
import sys, time, requests
url, n, body = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = requests.Session()
for _ in range(n):
    t = time.perf_counter()
    r = s.post(url, data=body, headers={"content-type": "application/x-www-form-urlencoded; charset=utf-8"})
    r.content
    print((time.perf_counter() - t) * 1000)
`;

const PY_BOTO3 = `
import sys, time, boto3
from botocore.config import Config
url, n = sys.argv[1], int(sys.argv[2])
c = boto3.client("sqs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                 aws_secret_access_key="test", config=Config(retries={"max_attempts": 0}))
for _ in range(n):
    t = time.perf_counter()
    c.list_queues()
    print((time.perf_counter() - t) * 1000)
`;

function pythonClient(name: string, module: string, debianPackage: string, script: string, withBody: boolean): HttpClient {
  let python: string | undefined | null = null;
  const find = () => (python === null ? (python = pythonWith(module)) : python);
  return {
    name,
    unavailable: () => (find() ? undefined : `not installed: apt-get install -y ${debianPackage}`),
    async run(url, n) {
      const out = await runLines(find()!, ['-c', script, url, String(n), ...(withBody ? [BODY] : [])]);
      return out.trim().split('\n').map(Number);
    },
  };
}

export const pythonRequests = pythonClient('python requests.Session', 'requests', 'python3-requests', PY_REQUESTS, true);
export const boto3 = pythonClient('python boto3 (SQS)', 'boto3', 'python3-boto3', PY_BOTO3, false);

export const ALL_CLIENTS: readonly HttpClient[] = [nodeAgent, undici, curl, pythonRequests, boto3];
