import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

function builtAt(): number {
  try {
    return Math.min(statSync(join(ROOT, 'dist/esm/index.js')).mtimeMs, statSync(join(ROOT, 'dist/cjs/index.js')).mtimeMs);
  } catch {
    return 0;
  }
}

/**
 * For tests that load the package as users get it (its name resolves to dist/):
 * `npm test` builds first, but a plain `npx mocha` does not, so rebuild here when
 * any source is newer than the build. Call from a `before` hook.
 */
export function ensureBuilt(): void {
  if (builtAt() >= newest(join(ROOT, 'src'))) return;
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`);
}
