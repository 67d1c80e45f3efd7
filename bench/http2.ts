// What the policy costs an HTTP/2 server, in requests per server CPU-second, with
// h2load as the client: a bare node:http2 (h2c) server and the same server with
// policy.attach() run in ONE process (bench/lib/slice-server.ts), and h2load loads
// them in turn, A B A B … (B A in odd rounds), `--batches` runs of `-n --requests`
// each per side per round. The server attributes its CPU time to each h2load run
// (it is idle between runs), so a slow moment of the shared machine lands on both
// sides alike. Per round: the median run's CPU per request, A / B; the table gives
// the median over rounds and the spread (10th–90th percentile of the rounds).
// A / A (two bare servers) is the method's own error.
//
//   node --import tsx bench/http2.ts [--rounds 10] [--batches 20] [--requests 200]
//                                    [--clients 1] [--streams 1] [--json]
//
// Needs h2load (Debian: nghttp2-client). Where `taskset` exists the servers run on
// core 0 and h2load on core 1.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { fmt, median, percentile, table } from './lib/measure.js';
import { hasTaskset } from './lib/server-process.js';
import { perRequest, startServers, type Servers } from './lib/slices.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    batches: { type: 'string', default: '20' },
    requests: { type: 'string', default: '200' },
    clients: { type: 'string', default: '1' },
    streams: { type: 'string', default: '1' },
    baseline: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const warmup = Number(values.warmup);

function h2load(port: number): Promise<void> {
  const args = ['-n', values.requests, '-c', values.clients, '-m', values.streams, `http://127.0.0.1:${port}/`];
  const command = hasTaskset ? ['taskset', '-c', '1', 'h2load', ...args] : ['h2load', ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('close', (code) => {
      const done = /(\d+) succeeded, (\d+) failed/.exec(out);
      if (code !== 0 || done === null || Number(done[2]) > 0) reject(new Error(`h2load failed (${code}):\n${out}`));
      else resolve();
    });
  });
}

/** The per-round ratios A / B of CPU per request (B's requests per CPU-second over A's). */
async function measure(servers: Servers, a: string, b: string): Promise<number[]> {
  await servers.attribute([a, b]);
  const ratios: number[] = [];
  for (let round = 0; round < warmup + rounds; round++) {
    await servers.report();
    for (let i = 0; i < Number(values.batches); i++) {
      for (const name of round % 2 === 0 ? [a, b] : [b, a]) await h2load(servers.ports[name]!);
    }
    const { batches } = await servers.report();
    if (round < warmup) continue;
    ratios.push(perRequest(batches[a]!) / perRequest(batches[b]!));
    process.stderr.write(`${a} / ${b}: round ${round + 1 - warmup}/${rounds} ${fmt(ratios.at(-1)!, 3)}\n`);
  }
  return ratios;
}

const pairs: Array<[name: string, a: string, b: string, target?: number]> = [
  ['A/A (bare / bare twin)', 'bare-http2', 'bare-http2-twin'],
  ['policy attached / bare', 'bare-http2', 'http2-policy-attached', 0.97],
];
if (values.baseline !== undefined)
  pairs.push(['this build / baseline', 'http2-policy-attached@baseline', 'http2-policy-attached']);
const results: Array<{ pair: string; median: number; p10: number; p90: number; target: number | undefined }> = [];
for (const [name, a, b, target] of pairs) {
  const servers = await startServers([a, b], values.baseline);
  try {
    const ratios = await measure(servers, a, b);
    results.push({ pair: name, median: median(ratios), p10: percentile(ratios, 10), p90: percentile(ratios, 90), target });
  } finally {
    servers.stop();
  }
}
if (values.json) {
  console.log(JSON.stringify({ rounds, batches: Number(values.batches), h2load: values, results }));
} else {
  console.log(
    `HTTP/2 requests per server CPU-second, B / A, median of ${rounds} rounds of ${values.batches} × h2load -n ${values.requests} -c ${values.clients} -m ${values.streams} per side`,
  );
  console.log(
    table([
      ['pair', 'median', 'spread (p10–p90)', 'target'],
      ...results.map((r) => [
        r.pair,
        fmt(r.median, 3),
        `${fmt(r.p10, 3)}–${fmt(r.p90, 3)}`,
        r.target === undefined ? '' : `≥ ${r.target}`,
      ]),
    ]),
  );
}
