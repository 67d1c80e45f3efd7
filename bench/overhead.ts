// What the middleware costs, against the calibration a user would accept: one
// pass-through Express layer `app.use((req, res, next) => next())`.
//
//   1. Efficiency: requests per server CPU-second. The two servers of each ratio
//      run at the same time, pinned to core 0, each loaded by its own wrk on core
//      1, so whatever the shared machine does falls on both alike; the ratio is
//      taken per round and the median over rounds reported.
//   2. Sequential keep-alive latency (node http.Agent, one connection), A B A B ….
//
//   node --import tsx bench/overhead.ts [--rounds 5] [--seconds 4] [--requests 4000] [--json]
//                                       [--baseline OTHER/dist/esm]
// With --baseline, the policy servers also run from another build of the package
// (say, the last release's), side by side in the same rounds, and the ratios of
// this build to that one are printed: how a hot-path change is judged.
import { spawn, spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { nodeAgent } from './lib/clients.js';
import { compareAlternating, roundRatio } from './lib/compare.js';
import { fmt, median, percentile, table } from './lib/measure.js';
import { hasTaskset, startServerProcess, type ServerProcess } from './lib/server-process.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '4' },
    requests: { type: 'string', default: '4000' },
    'latency-rounds': { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
    baseline: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);

const KINDS = [
  'express',
  'express-passthrough',
  'express-passthrough-twin',
  'express-policy',
  'express-policy-attached',
  'bare-http',
  'http-policy',
  'http-policy-attached',
] as const;
type Kind = (typeof KINDS)[number] | `${'express-policy' | 'express-policy-attached' | 'http-policy'}@baseline`;
const baselineKinds = values.baseline
  ? (['express-policy@baseline', 'express-policy-attached@baseline', 'http-policy@baseline'] as const)
  : [];
const ALL: Kind[] = [...KINDS, ...baselineKinds];

/** Each ratio, with its target (`≥`). */
const RATIOS: Array<{ label: string; a: Kind; b: Kind; target?: number }> = [
  // A/A: the same server in two processes. How far from 1 this lands is the method's own error.
  { label: 'pass-through / the same in another process (A/A)', a: 'express-passthrough-twin', b: 'express-passthrough' },
  { label: 'pass-through layer / bare Express (calibration)', a: 'express-passthrough', b: 'express' },
  { label: 'connectionPolicy() / pass-through layer', a: 'express-policy', b: 'express-passthrough', target: 0.97 },
  {
    label: 'connectionPolicy() attached / pass-through layer',
    a: 'express-policy-attached',
    b: 'express-passthrough',
    target: 0.98,
  },
  { label: 'connectionPolicy() / bare Express', a: 'express-policy', b: 'express' },
  { label: 'node:http wrapped by the policy / bare node:http', a: 'http-policy', b: 'bare-http', target: 0.95 },
  { label: 'node:http wrapped, attached / bare node:http', a: 'http-policy-attached', b: 'bare-http', target: 0.95 },
];
if (values.baseline) {
  RATIOS.push(
    { label: 'connectionPolicy(): this build / baseline', a: 'express-policy', b: 'express-policy@baseline' },
    { label: 'attached: this build / baseline', a: 'express-policy-attached', b: 'express-policy-attached@baseline' },
    { label: 'node:http wrapped: this build / baseline', a: 'http-policy', b: 'http-policy@baseline' },
  );
}
/** Each ratio is measured on its own pair, loaded together. */
const PAIRS: Array<[Kind, Kind]> = RATIOS.map((r) => [r.a, r.b]);

function wrk(url: string, connections: number): Promise<void> {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, url];
  const [cmd, argv] = hasTaskset ? ['taskset', ['-c', '1', 'wrk', ...args]] : ['wrk', args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    // 'close', not 'exit': only then has all of wrk's output been read.
    child.once('close', (code, signal) =>
      code === 0 && /Requests\/sec/.test(out) ? resolve() : reject(new Error(`wrk ${url} exited with ${code ?? signal}: ${out}`)),
    );
  });
}

/** Requests per server CPU-second of every server of a group, loaded at the same time. */
async function efficiency(servers: Record<Kind, ServerProcess>, group: Kind[], connections: number) {
  const before = await Promise.all(group.map((k) => servers[k].usage()));
  await Promise.all(group.map((k) => wrk(servers[k].url, connections)));
  const after = await Promise.all(group.map((k) => servers[k].usage()));
  return Object.fromEntries(
    group.map((k, i) => [k, ((after[i]!.served - before[i]!.served) / (after[i]!.cpuMicros - before[i]!.cpuMicros)) * 1e6]),
  ) as Record<Kind, number>;
}

const servers = {} as Record<Kind, ServerProcess>;
for (const name of ALL) {
  const [kind, baseline] = name.split('@');
  const args = ['--kind', kind!, ...(baseline ? ['--dist', values.baseline!] : [])];
  servers[name] = await startServerProcess('bench/lib/server.ts', args, { cpu: 0 });
}
const json: Record<string, unknown> = { bench: 'overhead', rounds, seconds };
try {
  if (spawnSync('wrk', ['--version']).error) {
    console.log('1. efficiency: skipped, wrk is not installed (apt-get install -y wrk)');
  } else {
    const results: Record<string, { c1: number; c50: number; target?: number | undefined; met?: boolean | undefined }> = {};
    const perRatio: Array<Record<number, number>> = RATIOS.map(() => ({}));
    const perServer: Record<number, Record<Kind, number[]>> = {
      1: Object.fromEntries(ALL.map((k) => [k, [] as number[]])) as Record<Kind, number[]>,
      50: Object.fromEntries(ALL.map((k) => [k, [] as number[]])) as Record<Kind, number[]>,
    };
    const rows: string[][] = [['ratio (requests per server CPU-second)', '-c1', '-c50', 'target']];
    for (const connections of [1, 50]) {
      await efficiency(servers, ALL, connections); // warm-up, discarded
      const ratios: number[][] = RATIOS.map(() => []);
      for (let round = 0; round < rounds; round++) {
        for (const [i, pair] of PAIRS.entries()) {
          const e = await efficiency(servers, pair, connections);
          ratios[i]!.push(e[pair[0]] / e[pair[1]]);
          for (const k of pair) perServer[connections]![k].push(e[k]);
        }
        process.stderr.write(`efficiency -c${connections}: round ${round + 1}/${rounds}\n`);
      }
      RATIOS.forEach((r, i) => (perRatio[i]![connections] = median(ratios[i]!)));
    }
    RATIOS.forEach((r, i) => {
      const { 1: c1, 50: c50 } = perRatio[i]!;
      const met = r.target === undefined ? undefined : c1! >= r.target && c50! >= r.target;
      rows.push([r.label, fmt(c1!, 3), fmt(c50!, 3), r.target === undefined ? '' : `≥ ${r.target} ${met ? 'met' : 'MISSED'}`]);
      results[r.label] = { c1: c1!, c50: c50!, ...(r.target !== undefined ? { target: r.target, met } : {}) };
    });
    console.log(
      `\n1. efficiency, wrk -t1 ${seconds} s, the two servers of each ratio loaded together on one core, median of ${rounds} rounds\n`,
    );
    console.log(table(rows));
    console.log(
      '\n' +
        table([
          ['server', 'req / CPU-s -c1', 'req / CPU-s -c50'],
          ...ALL.map((k) => [k, fmt(median(perServer[1]![k]), 0), fmt(median(perServer[50]![k]), 0)]),
        ]),
    );
    json.efficiency = results;
  }

  process.stderr.write('sequential keep-alive latency…\n');
  const latencyRounds = Number(values['latency-rounds']);
  const perRound = Math.floor(Number(values.requests) / latencyRounds);
  const seqKinds = ['express', 'express-policy', 'express-policy-attached'] as const;
  const seq = await compareAlternating(
    nodeAgent,
    Object.fromEntries(seqKinds.map((k) => [k, servers[k]])) as Record<(typeof seqKinds)[number], ServerProcess>,
    {
      rounds: latencyRounds,
      perRound,
    },
  );
  console.log(`\n2. sequential keep-alive requests, ${latencyRounds * perRound} per server, ms\n`);
  console.log(
    table([['server', 'p50', 'p99'], ...seqKinds.map((k) => [k, fmt(median(seq.ms[k]), 3), fmt(percentile(seq.ms[k], 99), 3)])]),
  );
  const latency: Record<string, number> = {};
  for (const k of ['express-policy', 'express-policy-attached'] as const) {
    latency[k] = roundRatio(seq.roundMedians[k], seq.roundMedians.express);
    console.log(
      `${k} / express, median of per-round p50 ratios: ${fmt(latency[k], 3)} (target ≤ 1.03: ${latency[k] <= 1.03 ? 'met' : 'MISSED'})`,
    );
  }
  json.latency = latency;
} finally {
  await Promise.all(ALL.map((k) => servers[k].stop()));
}
if (values.json) console.log(JSON.stringify(json));
