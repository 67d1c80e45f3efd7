// The pure rules' own cost per request (decide.ts: the arrival and head-time
// decisions of one HTTP/1.1 keep-alive request), for each `Connection` header a
// client commonly sends, in ns per request. Two builds side by side in one
// process (one process per pair), A B A B … in short rounds, medians: this
// build's dist/esm and, with --baseline, another (its dist/esm). The A/A rows run
// this build against itself: the method's own error.
//
//   node --import tsx bench/rules.ts [--baseline OTHER/dist/esm] [--rounds 21] [--calls 200000]
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type * as Decide from '../src/decide.js';
import { fmt, median, percentile, table } from './lib/measure.js';

const { values } = parseArgs({
  options: {
    baseline: { type: 'string' },
    rounds: { type: 'string', default: '21' },
    calls: { type: 'string', default: '200000' },
    // Internal: the pair this process measures (each pair runs in a process of its
    // own, so that the shared loop sees two builds' functions, not three).
    pair: { type: 'string' },
  },
});
const load = async (dist: string, query = '') =>
  (await import(`${pathToFileURL(`${dist}/decide.js`).href}${query}`)) as typeof Decide;
const here = fileURLToPath(new URL('../dist/esm', import.meta.url));

/** What a client sends: nothing (HTTP/1.1 defaults to persistence), or a one-member list. */
const HEADERS: ReadonlyArray<[label: string, value: string | undefined]> = [
  ['(none: curl, wrk, browsers)', undefined],
  ['keep-alive (Node, undici, requests, boto3)', 'keep-alive'],
  ['Keep-Alive', 'Keep-Alive'],
  ['close', 'close'],
];

/** One request's two decisions, as admission.ts and head-time.ts ask for them. */
function oneRequest(rules: typeof Decide, requestConnection: string | undefined, requests: number): boolean {
  const arrival = {
    requestConnection,
    http10: false,
    draining: false,
    policyAnswer: 'keep-alive' as const,
    policySource: "policy 'keep-alive'",
    requests,
    maxRequests: Infinity,
    age: 0,
    ageLimit: Infinity,
  };
  const first = rules.decideAtArrival(arrival);
  // A literal, as head-time.ts builds it (a spread of `arrival` here would cost
  // V8 far more than the rules themselves).
  const head = rules.decideAtHead({
    requestConnection,
    http10: false,
    draining: false,
    policyAnswer: 'keep-alive',
    policySource: "policy 'keep-alive'",
    requests,
    maxRequests: Infinity,
    age: 0,
    ageLimit: Infinity,
    responseConnection: undefined,
    delimited: true,
    reachedMiddleware: true,
    refusedBehind: false,
    handledBehind: false,
  });
  return 'keepAlive' in first && 'keepAlive' in head && head.keepAlive;
}

function round(rules: typeof Decide, value: string | undefined, calls: number): number {
  let kept = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) if (oneRequest(rules, value, i)) kept++;
  const ns = Number(process.hrtime.bigint() - start) / calls;
  if (kept < 0) throw new Error('unreachable: keeps the loop from being optimised away');
  return ns;
}

const rounds = Number(values.rounds);
const calls = Number(values.calls);

async function measurePair(name: string): Promise<string[][]> {
  // A/A: this build under a second URL, so that it is a second module instance.
  const [a, b] =
    name === 'A/A' ? [await load(here), await load(here, '?twin')] : [await load(values.baseline!), await load(here)];
  const rows: string[][] = [];
  for (const [label, value] of HEADERS) {
    const [as, bs, ratios] = [[] as number[], [] as number[], [] as number[]];
    for (let r = 0; r < rounds + 2; r++) {
      // A B in even rounds, B A in odd ones; the first two rounds warm up.
      let p: number, q: number;
      if (r % 2 === 0) {
        p = round(a, value, calls);
        q = round(b, value, calls);
      } else {
        q = round(b, value, calls);
        p = round(a, value, calls);
      }
      if (r < 2) continue;
      as.push(p);
      bs.push(q);
      ratios.push(q / p);
    }
    const spread = `${fmt(percentile(ratios, 10), 3)}–${fmt(percentile(ratios, 90), 3)}`;
    rows.push([name, label, fmt(median(as), 1), fmt(median(bs), 1), fmt(median(ratios), 3), spread]);
  }
  return rows;
}

if (values.pair !== undefined) {
  console.log(JSON.stringify(await measurePair(values.pair)));
} else {
  const names = values.baseline === undefined ? ['A/A'] : ['A/A', 'this build / baseline'];
  const rows = [['pair', 'request Connection', 'A ns', 'B ns', 'B / A', 'B / A p10–p90']];
  for (const name of names) {
    const args = [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2), '--pair', name];
    rows.push(...(JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' })) as string[][]));
  }
  console.log(`ns per request (arrival and head decisions), median of ${rounds} rounds of ${calls} requests per side`);
  console.log(table(rows));
}
