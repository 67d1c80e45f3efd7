// The per-request cost of the policy, measured to 1 %: every variant is a server
// in ONE process (bench/lib/slice-server.ts), and the load alternates between the
// two of a pair batch by batch: `connections` requests to A at once (one per
// keep-alive connection), all answered, then the same to B, and so on. The server
// attributes its CPU time to each batch (the server is idle between batches), so
// machine speed — which drifts by ±15 % from one 100 ms to the next on this shared
// machine — is the same for A and B to within a batch. Two figures per pair, each
// the median over rounds with the spread (10th–90th percentile of the rounds):
//   mean:   requests per CPU-second, B / A (all CPU, GC pauses included)
//   median: the median batch's CPU per request, A / B (robust to a GC pause or a
//           neighbour's burst landing on one batch)
// A / A (pass / pass-twin) is the method's own error.
//
//   node --import tsx bench/interleaved.ts [--rounds 30] [--requests 1000] [--connections 1,50]
//                                          [--pairs NAME,…] [--baseline OTHER/dist/esm] [--json]
//                                          [--request-connection keep-alive]
//
// Where `taskset` exists the servers run on core 0 and this process on core 1.
import { parseArgs } from 'node:util';
import { fmt, median, percentile, table } from './lib/measure.js';
import { H2Lane } from './lib/h2-lane.js';
import { Lane, once } from './lib/lane.js';
import { perRequest, startServers, type Batch, type Servers } from './lib/slices.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '3' },
    // Requests to each side per round (default: 1,000, or 100 per connection where
    // that is more: 100 batches a round, whose median is the round's figure).
    requests: { type: 'string' },
    connections: { type: 'string', default: '1,50' },
    // Streams at once per HTTP/2 connection in each batch.
    streams: { type: 'string', default: '1' },
    pairs: { type: 'string' },
    // A Connection header on every HTTP/1.1 request (Node's Agent, Python's requests and boto3 send keep-alive).
    'request-connection': { type: 'string' },
    baseline: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const warmup = Number(values.warmup);
const perRoundAt = (connections: number) =>
  values.requests === undefined ? Math.max(1000, 100 * connections) : Number(values.requests);

interface Pair {
  name: string;
  a: string;
  b: string;
  target?: number;
}
const PAIRS: Pair[] = [
  { name: 'A/A', a: 'pass', b: 'pass-twin' },
  { name: 'policy', a: 'pass', b: 'policy', target: 0.97 },
  { name: 'attached', a: 'pass', b: 'policy-attached', target: 0.98 },
  { name: 'http A/A', a: 'bare-http', b: 'bare-http-twin' },
  { name: 'listener', a: 'pass', b: 'listener' },
  { name: 'listener+fields', a: 'pass', b: 'listener-fields' },
  { name: 'http policy', a: 'bare-http', b: 'http-policy' },
  { name: 'http attached', a: 'bare-http', b: 'http-policy-attached' },
  { name: 'h2 A/A', a: 'bare-http2', b: 'bare-http2-twin' },
  { name: 'h2 attached', a: 'bare-http2', b: 'http2-policy-attached', target: 0.97 },
];
if (values.baseline !== undefined) {
  PAIRS.push(
    { name: 'policy / baseline', a: 'policy@baseline', b: 'policy' },
    { name: 'attached / baseline', a: 'policy-attached@baseline', b: 'policy-attached' },
    { name: 'http attached / baseline', a: 'http-policy-attached@baseline', b: 'http-policy-attached' },
    { name: 'h2 attached / baseline', a: 'http2-policy-attached@baseline', b: 'http2-policy-attached' },
  );
}
const wanted = values.pairs?.split(',');
const pairs = wanted === undefined ? PAIRS : PAIRS.filter((p) => wanted.includes(p.name));

interface Result {
  pair: string;
  connections: number;
  requestsPerRound: number;
  mean: Spread;
  median: Spread;
  target: number | undefined;
}
interface Spread {
  median: number;
  p10: number;
  p90: number;
}

const spread = (list: number[]): Spread => ({ median: median(list), p10: percentile(list, 10), p90: percentile(list, 90) });
const sum = (batches: Batch[], i: 0 | 1) => batches.reduce((total, batch) => total + batch[i], 0);

type AnyLane = Lane | H2Lane;
const openLane = (name: string, port: number): Promise<AnyLane> =>
  name.includes('http2') ? H2Lane.open(port, Number(values.streams)) : Lane.open(port, values['request-connection']);

/** One pair at one concurrency: a ratio of each kind per round. */
async function measure(
  servers: Servers,
  a: AnyLane[],
  b: AnyLane[],
  pair: Pair,
  perRound: number,
): Promise<{ mean: number[]; median: number[] }> {
  const batch = (lanes: AnyLane[]) => Promise.all(lanes.map((lane) => lane.drive(once())));
  await servers.attribute([pair.a, pair.b]);
  const ratios = { mean: [] as number[], median: [] as number[] };
  for (let round = 0; round < warmup + rounds; round++) {
    await servers.report();
    for (let sent = 0; sent < perRound; sent += a.length * (a[0] instanceof H2Lane ? a[0].streams : 1)) {
      // A B in even rounds, B A in odd ones: neither side always goes first.
      await batch(round % 2 === 0 ? a : b);
      await batch(round % 2 === 0 ? b : a);
    }
    const { batches } = await servers.report();
    if (round < warmup) continue;
    const [ba, bb] = [batches[pair.a]!, batches[pair.b]!];
    ratios.mean.push(sum(bb, 1) / sum(bb, 0) / (sum(ba, 1) / sum(ba, 0)));
    ratios.median.push(perRequest(ba) / perRequest(bb));
  }
  return ratios;
}

async function main(): Promise<void> {
  const results: Result[] = [];
  for (const connections of values.connections.split(',').map(Number)) {
    for (const pair of pairs) {
      // A fresh process per pair, holding that pair's two servers only.
      const servers = await startServers([pair.a, pair.b], values.baseline);
      try {
        const open = (name: string) =>
          Promise.all(Array.from({ length: connections }, () => openLane(name, servers.ports[name]!)));
        const [a, b] = [await open(pair.a), await open(pair.b)];
        const perRound = perRoundAt(connections * (pair.a.includes('http2') ? Number(values.streams) : 1));
        const ratios = await measure(servers, a, b, pair, perRound);
        for (const lane of [...a, ...b]) lane.close();
        const [mean, median] = [spread(ratios.mean), spread(ratios.median)];
        results.push({ pair: pair.name, connections, requestsPerRound: perRound, mean, median, target: pair.target });
      } finally {
        servers.stop();
      }
    }
  }
  if (values.json) {
    console.log(JSON.stringify({ rounds, results }, null, 2));
    return;
  }
  const cells = (s: Spread) => [fmt(s.median, 3), `${fmt(s.p10, 3)}–${fmt(s.p90, 3)}`];
  console.log(
    `B / A, median of ${rounds} rounds of ${perRoundAt(1)} requests to each side (-c1; 100 per connection above 10) (spread: p10–p90 of the rounds)`,
  );
  console.log(
    table([
      ['pair', '-c', 'mean', 'spread', 'median', 'spread', 'target'],
      ...results.map((r) => [
        r.pair,
        String(r.connections),
        ...cells(r.mean),
        ...cells(r.median),
        r.target === undefined ? '' : `≥ ${r.target}`,
      ]),
    ]),
  );
}

await main();
