// What the policy costs an HTTP/2 server, in requests per server CPU-second: a bare
// node:http2 (h2c) server against the same server with policy.attach(), each in its
// own process, loaded in turn by h2load (A B A B …, `--rounds` rounds), with the
// server's CPU time read before and after each load. A / A (two bare servers) is
// the method's own error. Prints, per pair, the median ratio over rounds and the
// spread (10th–90th percentile of the rounds).
//
//   node --import tsx bench/http2.ts [--rounds 10] [--requests 20000] [--clients 4] [--streams 10]
//
// Needs h2load (Debian: nghttp2-client). Where `taskset` exists the servers run on
// core 0 and h2load on core 1.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { fmt, median, percentile, table } from './lib/measure.js';
import { hasTaskset, startServerProcess, type ServerProcess } from './lib/server-process.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    requests: { type: 'string', default: '20000' },
    clients: { type: 'string', default: '4' },
    streams: { type: 'string', default: '10' },
  },
});
const rounds = Number(values.rounds);

function h2load(url: string): Promise<void> {
  const args = ['-n', values.requests, '-c', values.clients, '-m', values.streams, url];
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

/** Requests per server CPU-second for one load of `server`. */
async function rate(server: ServerProcess): Promise<number> {
  const before = (await server.usage())!;
  await h2load(server.url);
  const after = (await server.usage())!;
  return (after.served - before.served) / ((after.cpuMicros - before.cpuMicros) / 1e6);
}

const pairs: Array<[name: string, a: string, b: string]> = [
  ['A/A (bare / bare twin)', 'bare-http2', 'bare-http2-twin'],
  ['policy attached / bare', 'bare-http2', 'http2-policy-attached'],
];
const rows: string[][] = [];
for (const [name, kindA, kindB] of pairs) {
  const a = await startServerProcess('bench/lib/server.ts', ['--kind', kindA], { cpu: 0 });
  const b = await startServerProcess('bench/lib/server.ts', ['--kind', kindB], { cpu: 0 });
  try {
    await rate(a); // warm-up
    await rate(b);
    const ratios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const ra = await rate(a);
      const rb = await rate(b);
      ratios.push(rb / ra);
      process.stderr.write(`${name}: round ${round + 1}/${rounds} ${fmt(rb / ra, 3)}\n`);
    }
    rows.push([name, fmt(median(ratios), 3), `${fmt(percentile(ratios, 10), 3)}–${fmt(percentile(ratios, 90), 3)}`]);
  } finally {
    await a.stop();
    await b.stop();
  }
}
console.log(
  `HTTP/2 requests per server CPU-second, B / A, ${rounds} rounds of h2load -n ${values.requests} -c ${values.clients} -m ${values.streams}`,
);
console.log(table([['pair', 'median', 'spread (p10–p90)'], ...rows]));
