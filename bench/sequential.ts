// Sequential latency, keep-alive against close, per real client, with the echo
// app's 5 ms handler wait and without it. Variants alternate (A B A B …); the
// ratio is median(keep-alive) / median(close) over all rounds.
//
//   node --import tsx bench/sequential.ts [--requests 400] [--rounds 8]
import { parseArgs } from 'node:util';
import { ALL_CLIENTS } from './lib/clients.js';
import { compareAlternating } from './lib/compare.js';
import { fmt, median, percentile, table } from './lib/measure.js';
import { startEchoServer } from './lib/server-process.js';

const { values } = parseArgs({
  options: { requests: { type: 'string', default: '400' }, rounds: { type: 'string', default: '8' } },
});
const rounds = Number(values.rounds);
const perRound = Math.floor(Number(values.requests) / rounds);
const TARGET = { 5: 0.97, 0: 0.8 } as const;

const rows = [['client', 'wait', 'keep-alive p50', 'p99', 'conns', 'close p50', 'p99', 'conns', 'ratio', 'target']];
const json: Array<Record<string, unknown>> = [];
for (const waitMs of [5, 0] as const) {
  const servers = { 'keep-alive': await startEchoServer('keep-alive', waitMs), close: await startEchoServer('close', waitMs) };
  try {
    for (const client of ALL_CLIENTS) {
      const skipped = client.unavailable();
      if (skipped) {
        rows.push([client.name, `${waitMs} ms`, `skipped: ${skipped}`, '', '', '', '', '', '', '']);
        continue;
      }
      process.stderr.write(`${client.name}, wait ${waitMs} ms…\n`);
      const r = await compareAlternating(client, servers, { rounds, perRound });
      const ka = r.ms['keep-alive'];
      const cl = r.ms.close;
      const ratio = median(ka) / median(cl);
      const ok = ratio <= TARGET[waitMs];
      rows.push([
        client.name,
        `${waitMs} ms`,
        fmt(median(ka)),
        fmt(percentile(ka, 99)),
        String(r.connections['keep-alive']),
        fmt(median(cl)),
        fmt(percentile(cl, 99)),
        String(r.connections.close),
        fmt(ratio, 3),
        `≤ ${TARGET[waitMs]} ${ok ? 'met' : 'MISSED'}`,
      ]);
      json.push({
        client: client.name,
        waitMs,
        keepAliveP50: median(ka),
        closeP50: median(cl),
        keepAliveP99: percentile(ka, 99),
        closeP99: percentile(cl, 99),
        ratio,
        target: TARGET[waitMs],
        met: ok,
      });
    }
  } finally {
    await Promise.all([servers['keep-alive'].stop(), servers.close.stop()]);
  }
}
console.log(`\nsequential POST / (echo app), ${rounds * perRound} requests per cell, ms per request\n`);
console.log(table(rows));
console.log(JSON.stringify({ bench: 'sequential', results: json }));
