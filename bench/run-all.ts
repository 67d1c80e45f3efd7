// `npm run bench` (which builds dist/ first: the servers run the package as users get it):
// every benchmark in turn, each in its own process.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const benches: Array<[string, string[]]> = [
  ['bench/sequential.ts', []],
  ['bench/interleaved.ts', []],
  ['bench/profile.ts', []],
  ['bench/overhead.ts', []],
  ['bench/per-request.ts', []],
  ['bench/stall.ts', []],
  ['bench/memory.ts', ['--expose-gc']],
];
let failed = 0;
for (const [file, flags] of benches) {
  console.log(`\n=== ${file}`);
  const r = spawnSync(process.execPath, [...flags, '--import', 'tsx', file], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
