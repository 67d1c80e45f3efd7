// What the middleware costs: Express 5 with app.use(connectionPolicy()) against
// bare Express 5 and bare node:http.
//   1. sequential keep-alive latency (node http.Agent, one connection), A B A B …
//   2. throughput with wrk at 1 and 50 connections, alternating the servers.
// Servers run pinned to core 0 and wrk to core 1 (where taskset exists).
//
//   node --import tsx bench/overhead.ts [--requests 4000] [--rounds 8] [--seconds 3]
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { nodeAgent } from '../scripts/lib/clients.js';
import { compareAlternating, roundRatio } from '../scripts/lib/compare.js';
import { fmt, median, percentile, table } from '../scripts/lib/measure.js';
import { hasTaskset, startServerProcess, type ServerProcess } from '../scripts/lib/server-process.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '6000' },
    rounds: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '1' },
    'wrk-rounds': { type: 'string', default: '8' },
  },
});
const rounds = Number(values.rounds);
const perRound = Math.floor(Number(values.requests) / rounds);
const KINDS = ['express-policy', 'express', 'bare-http'] as const;
type Kind = (typeof KINDS)[number];

const servers = {} as Record<Kind, ServerProcess>;
for (const kind of KINDS) servers[kind] = await startServerProcess('bench/lib/server.ts', ['--kind', kind], { cpu: 0 });
const json: Record<string, unknown> = { bench: 'overhead' };
try {
  process.stderr.write('sequential keep-alive latency…\n');
  const before = Object.fromEntries(await Promise.all(KINDS.map(async (k) => [k, await servers[k].usage()] as const)));
  const seq = await compareAlternating(nodeAgent, servers, { rounds, perRound });
  // Server CPU per request: steadier than latency on a shared machine.
  const cpuPerRequest = {} as Record<Kind, number>;
  for (const k of KINDS) {
    const after = (await servers[k].usage())!;
    cpuPerRequest[k] = (after.cpuMicros - before[k]!.cpuMicros) / (after.served - before[k]!.served);
  }
  const latencyRatio = roundRatio(seq.roundMedians['express-policy'], seq.roundMedians.express);
  console.log(`\n1. sequential keep-alive requests, ${rounds * perRound} per server, ms\n`);
  console.log(
    table([
      ['server', 'p50', 'p99', 'server CPU µs/request'],
      ...KINDS.map((k) => [k, fmt(median(seq.ms[k]), 3), fmt(percentile(seq.ms[k], 99), 3), fmt(cpuPerRequest[k], 1)]),
    ]),
  );
  console.log(
    `\nexpress-policy / express, median of ${rounds} per-round p50 ratios: ${fmt(latencyRatio, 3)} (target ≤ 1.03: ${latencyRatio <= 1.03 ? 'met' : 'MISSED'})`,
  );
  const cpuRatio = cpuPerRequest['express-policy'] / cpuPerRequest.express;
  console.log(`express-policy / express server CPU per request: ${fmt(cpuRatio, 3)}`);
  json.latency = { p50: Object.fromEntries(KINDS.map((k) => [k, median(seq.ms[k])])), ratio: latencyRatio, target: 1.03, met: latencyRatio <= 1.03 };
  json.cpuPerRequestMicros = cpuPerRequest;

  const wrk = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (wrk.error) {
    console.log('\n2. throughput: skipped, wrk is not installed (apt-get install -y wrk)');
  } else {
    const rps = (url: string, connections: number): number => {
      const args = ['-t1', `-c${connections}`, `-d${values.seconds}s`, url];
      const out = spawnSync(hasTaskset ? 'taskset' : 'wrk', hasTaskset ? ['-c', '1', 'wrk', ...args] : args, { encoding: 'utf8' });
      const m = out.stdout.match(/Requests\/sec:\s+([\d.]+)/);
      if (!m) throw new Error(`wrk said: ${out.stdout}${out.stderr}`);
      return Number(m[1]);
    };
    const throughput: Record<string, Record<Kind, number>> = {};
    const rows = [['connections', ...KINDS.map((k) => `${k} req/s`), 'policy / express (per round)', 'target']];
    for (const connections of [1, 50]) {
      const samples = Object.fromEntries(KINDS.map((k) => [k, [] as number[]])) as Record<Kind, number[]>;
      for (const kind of KINDS) rps(servers[kind].url, connections); // warm-up, discarded
      const wrkRounds = Number(values['wrk-rounds']);
      for (let round = 0; round < wrkRounds; round++) {
        for (const kind of KINDS) samples[kind].push(rps(servers[kind].url, connections));
        process.stderr.write(`wrk -c${connections}: round ${round + 1}/${wrkRounds}\n`);
      }
      const med = Object.fromEntries(KINDS.map((k) => [k, median(samples[k])])) as Record<Kind, number>;
      throughput[`c${connections}`] = med;
      const ratio = roundRatio(samples['express-policy'], samples.express);
      rows.push([String(connections), ...KINDS.map((k) => fmt(med[k], 0)), fmt(ratio, 3), `≥ 0.97 ${ratio >= 0.97 ? 'met' : 'MISSED'}`]);
    }
    console.log(`\n2. throughput, wrk -t1 ${values.seconds}s × ${values['wrk-rounds']} alternating rounds, medians\n`);
    console.log(table(rows));
    json.throughput = throughput;
  }
} finally {
  await Promise.all(KINDS.map((k) => servers[k].stop()));
}
console.log(JSON.stringify(json));
