// The policy's share of server CPU, from V8's own CPU profile: a steadier figure
// than any throughput ratio on a shared machine, since a slow moment slows the
// package and Express alike. The server (bench/lib/server.ts, Express 5 hello
// world) runs under `node --cpu-prof` with keep-alive load from this process;
// then the profile's samples are split into the package's own functions (the
// build in dist/, on-headers counted apart), everything else, and idle.
//
//   node --import tsx bench/profile.ts [--kinds express-policy,express-policy-attached]
//                                      [--seconds 10] [--connections 50] [--runs 1] [--top 12]
//                                      [--interval 1000] [--no-calibration]
// The calibration row is a pass-through middleware's own share in the same setup.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { H2Lane } from './lib/h2-lane.js';
import { Lane, load } from './lib/lane.js';
import { fmt, table } from './lib/measure.js';
import { hasTaskset } from './lib/server-process.js';

const { values } = parseArgs({
  options: {
    kinds: { type: 'string', default: 'express-policy,express-policy-attached' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    // Streams at once per connection, for the HTTP/2 kinds.
    streams: { type: 'string', default: '1' },
    runs: { type: 'string', default: '1' },
    // V8's sampling interval in µs (its default is 1000): more samples, a steadier share.
    interval: { type: 'string', default: '1000' },
    top: { type: 'string', default: '12' },
    'no-calibration': { type: 'boolean', default: false },
  },
});

interface ProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  positionTicks?: Array<{ line: number; ticks: number }>;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist', 'esm');

/** Runs one server under --cpu-prof with load; returns its profile's nodes. */
async function profile(kind: string): Promise<ProfileNode[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ecp-prof-'));
  const node = [
    process.execPath,
    '--cpu-prof',
    '--cpu-prof-interval',
    values.interval,
    '--cpu-prof-dir',
    dir,
    '--import',
    'tsx',
    'bench/lib/server.ts',
    '--kind',
    kind,
  ];
  const command = hasTaskset ? ['taskset', '-c', '0', ...node] : node;
  const child = spawn(command[0]!, command.slice(1), { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`${kind} exited with ${code}`)));
      child.stdout.on('data', (chunk: Buffer) => {
        const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(chunk.toString());
        if (match) resolve(Number(match[1]));
      });
    });
    const open = () => (kind.includes('http2') ? H2Lane.open(port, Number(values.streams)) : Lane.open(port));
    const lanes = await Promise.all(Array.from({ length: Number(values.connections) }, open));
    // Warm-up (JIT), then the measured load: the profile covers both, the warm-up is short.
    await load(lanes, 1000);
    await load(lanes, Number(values.seconds) * 1000);
    for (const lane of lanes) lane.close();
    await new Promise<void>((resolve) => {
      child.removeAllListeners('exit');
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error(`no profile written for ${kind}`);
    return (JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: ProfileNode[] }).nodes;
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

type Part = 'package' | 'on-headers' | 'idle' | 'other';
function partOf(node: ProfileNode): Part {
  const { url, functionName } = node.callFrame;
  if (functionName === '(idle)') return 'idle';
  if (url.includes('/node_modules/on-headers/')) return 'on-headers';
  if (url.startsWith(`file://${DIST}/`) && !url.includes('/testing/') && !url.includes('/doctor/')) return 'package';
  return 'other';
}

/**
 * The calibration: the share of a pass-through middleware's own function
 * (`(req, res, next) => next()`) in the same setup. A middleware's self time
 * includes what V8 inlined into it of Express's `next()`, so this is what any
 * middleware that hands a request on shows before doing anything.
 */
async function calibration(): Promise<string> {
  const nodes = await profile('express-passthrough');
  let own = 0;
  let server = 0;
  for (const node of nodes) {
    if (partOf(node) === 'idle') continue;
    server += node.hitCount ?? 0;
    if (node.callFrame.functionName === 'passThrough') own += node.hitCount ?? 0;
  }
  return `${fmt((100 * own) / server, 2)} %`;
}

async function main(): Promise<void> {
  const rows: string[][] = [['kind', 'run', 'package', 'on-headers', 'server CPU samples', 'target']];
  if (!values['no-calibration']) {
    for (let run = 1; run <= Number(values.runs); run++) {
      rows.push(['a pass-through middleware (calibration)', String(run), await calibration(), '', '', '']);
    }
  }
  for (const kind of values.kinds.split(',')) {
    for (let run = 1; run <= Number(values.runs); run++) {
      const nodes = await profile(kind);
      const hits: Record<Part, number> = { package: 0, 'on-headers': 0, idle: 0, other: 0 };
      const own = new Map<string, number>();
      const lines = new Map<string, number>();
      for (const node of nodes) {
        const part = partOf(node);
        hits[part] += node.hitCount ?? 0;
        if (part === 'package') {
          const name = `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.slice(DIST.length + 8)}:${node.callFrame.lineNumber + 1}`;
          own.set(name, (own.get(name) ?? 0) + (node.hitCount ?? 0));
          if (process.env.PROFILE_LINES) {
            for (const t of node.positionTicks ?? [])
              lines.set(`${name} @${t.line}`, (lines.get(`${name} @${t.line}`) ?? 0) + t.ticks);
          }
        }
      }
      const server = hits.package + hits['on-headers'] + hits.other;
      // Inclusive: the package's entry points that call nothing of the application's
      // (the 'request' listener, the head-time listeners), with everything under them.
      const byId = new Map(nodes.map((n) => [n.id, n]));
      const subtree = (n: ProfileNode): number =>
        (n.hitCount ?? 0) + (n.children ?? []).reduce((t, c) => t + subtree(byId.get(c)!), 0);
      let inclusive = 0;
      const entries = /^(Admission\.onRequest|onRequest|atHead|atHeadArmed)$/;
      const visit = (n: ProfileNode): void => {
        if (partOf(n) === 'package' && entries.test(n.callFrame.functionName)) inclusive += subtree(n);
        else for (const c of n.children ?? []) visit(byId.get(c)!);
      };
      visit(nodes[0]!);
      console.error(
        `${kind} run ${run}: inclusive share of the listener and head-time entry points ${fmt((100 * inclusive) / server, 2)} %`,
      );
      const share = (n: number) => `${fmt((100 * n) / server, 2)} %`;
      rows.push([kind, String(run), share(hits.package), share(hits['on-headers']), String(server), '≤ 1.00 %']);
      const top = [...own].sort((x, y) => y[1] - x[1]).slice(0, Number(values.top));
      console.error(`${kind} run ${run}: the package's functions by self time`);
      for (const [name, n] of top) console.error(`  ${share(n).padStart(8)}  ${name}`);
      for (const [name, n] of [...lines].sort((x, y) => y[1] - x[1]).slice(0, 20))
        console.error(`  line ${share(n).padStart(8)}  ${name}`);
    }
  }
  console.log("share of server CPU (profile samples, idle excluded) in the package's own functions, Express 5 hello world");
  console.log(table(rows));
}

await main();
