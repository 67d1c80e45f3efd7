// `npm start`: the LocalStack experiment, with this package.
//
// Starts examples/echo-server.ts twice — `--policy keep-alive` and `--policy close`
// — each in its own process on a free port, drives sequential requests from real
// clients against both (alternating A B A B in rounds, so machine noise hits both
// alike), and prints per-request p50 / p99, the connections each used, and the
// keep-alive / close ratio per client.
//
//   npm start                 # 200 requests per client and policy
//   npm start -- --requests 40 --rounds 2
import { parseArgs } from 'node:util';
import { ALL_CLIENTS, type HttpClient } from '../bench/lib/clients.js';
import { compareAlternating } from '../bench/lib/compare.js';
import { startEchoServer, type ServerProcess } from '../bench/lib/server-process.js';
import { fmt, percentile, table } from '../bench/lib/measure.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '4' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('usage: npm start [-- --requests N (per client and policy, default 200)] [--rounds R (default 4)]');
  process.exit(0);
}
const requests = Number(values.requests);
const rounds = Number(values.rounds);
if (!Number.isInteger(requests) || !Number.isInteger(rounds) || rounds < 1 || requests < rounds) {
  console.error('demo: --requests and --rounds must be whole numbers with requests ≥ rounds ≥ 1');
  process.exit(2);
}
const perRound = Math.floor(requests / rounds);
const progress = (msg: string) => process.stderr.write(`${msg}\n`);

interface Result {
  client: string;
  skipped?: string;
  ms?: Record<'keep-alive' | 'close', number[]>;
  connections?: Record<'keep-alive' | 'close', number>;
}

async function measure(client: HttpClient, servers: Record<'keep-alive' | 'close', ServerProcess>): Promise<Result> {
  const skipped = client.unavailable();
  if (skipped) return { client: client.name, skipped };
  const { ms, connections } = await compareAlternating(client, servers, {
    rounds,
    perRound,
    onRound: (round) => progress(`  ${client.name}: round ${round}/${rounds}`),
  });
  return { client: client.name, ms, connections };
}

async function main(): Promise<void> {
  progress(`starting examples/echo-server.ts under each policy…`);
  const [keepAlive, close] = await Promise.all([startEchoServer('keep-alive'), startEchoServer('close')]);
  const servers = { 'keep-alive': keepAlive, close };
  progress(`  keep-alive: ${keepAlive.url}\n  close:      ${close.url}`);
  progress(
    `${perRound * rounds} sequential POST / (SQS ListQueues, 5 ms handler) per client and policy, ${rounds} alternating rounds`,
  );
  const results: Result[] = [];
  try {
    for (const client of ALL_CLIENTS) results.push(await measure(client, servers));
  } finally {
    await Promise.all([keepAlive.stop(), close.stop()]);
  }

  const rows = [['client', 'keep-alive p50', 'p99', 'conns', 'close p50', 'p99', 'conns', 'keep-alive / close (p50)']];
  for (const r of results) {
    if (!r.ms || !r.connections) {
      rows.push([r.client, `skipped (${r.skipped})`, '', '', '', '', '', '']);
      continue;
    }
    const ka = r.ms['keep-alive'];
    const cl = r.ms.close;
    rows.push([
      r.client,
      fmt(percentile(ka, 50)),
      fmt(percentile(ka, 99)),
      String(r.connections['keep-alive']),
      fmt(percentile(cl, 50)),
      fmt(percentile(cl, 99)),
      String(r.connections.close),
      fmt(percentile(ka, 50) / percentile(cl, 50), 3),
    ]);
  }
  console.log(`\nper-request latency in ms, ${perRound * rounds} sequential requests per cell\n`);
  console.log(table(rows));
  const measured = results.filter((r) => r.ms);
  const faster = measured.filter((r) => percentile(r.ms!['keep-alive'], 50) < percentile(r.ms!.close, 50));
  console.log(
    `\nkeep-alive was faster for ${faster.length} of ${measured.length} clients: each reused one connection ` +
      'where close paid a TCP handshake per request, and with TCP_NODELAY on every connection ' +
      'no reused request waits for a delayed ACK.',
  );
}

main().catch((err: unknown) => {
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
