// Stall immunity: a server created with { noDelay: false } whose handler writes its
// response in two pieces — the LocalStack/hypercorn situation — with and without
// the middleware (which turns TCP_NODELAY on for every connection). Sequential
// requests over one reused connection; the control shows the ~40 ms Nagle ×
// delayed-ACK stall.
//
//   node --import tsx bench/stall.ts [--requests 200]
import { parseArgs } from 'node:util';
import { nodeAgent } from './lib/clients.js';
import { compareAlternating } from './lib/compare.js';
import { fmt, median, percentile, table } from './lib/measure.js';
import { startServerProcess } from './lib/server-process.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '200' } } });
const rounds = 2;
const perRound = Math.floor(Number(values.requests) / rounds);
const servers = {
  'split-policy': await startServerProcess('bench/lib/server.ts', ['--kind', 'split-policy']),
  'split-bare': await startServerProcess('bench/lib/server.ts', ['--kind', 'split-bare']),
};
try {
  const r = await compareAlternating(nodeAgent, servers, { rounds, perRound });
  // The first two requests of a connection escape the stall (Linux quick-ACK): look at reused ones.
  const reused = (ms: number[]) => ms.filter((_, i) => i % perRound >= 2);
  const rows = [['server', 'reused p50 ms', 'p99 ms', 'requests > 30 ms']];
  const out: Record<string, unknown> = { bench: 'stall' };
  for (const [name, ms] of Object.entries(r.ms)) {
    const re = reused(ms);
    rows.push([name, fmt(median(re)), fmt(percentile(re, 99)), `${re.filter((x) => x > 30).length}/${re.length}`]);
    out[name] = { p50: median(re), p99: percentile(re, 99), over30: re.filter((x) => x > 30).length };
  }
  const p99 = percentile(reused(r.ms['split-policy']), 99);
  console.log(`\nresponse written in two pieces on a { noDelay: false } server, ${rounds * perRound} sequential requests\n`);
  console.log(table(rows));
  console.log(`\nwith the middleware, reused-connection p99 ${fmt(p99)} ms (target < 10 ms: ${p99 < 10 ? 'met' : 'MISSED'})`);
  console.log(JSON.stringify({ ...out, target: 10, met: p99 < 10 }));
} finally {
  await Promise.all(Object.values(servers).map((s) => s.stop()));
}
