// After `tsc -p tsconfig.cjs.json` (npm run build): the CommonJS entry points load the
// ES module build instead of a CommonJS copy of it, so a process that both imports
// and requires the package (an app's `import`, a dependency's `require`) has one
// instance: one connection-id sequence, one set of state. `require()` of an ES
// module works by default on the Node lines the package supports (engines:
// >=20.19; measured on 20.20, 22.23, 24.22 and 26.12). The CommonJS declaration
// files stay: CommonJS TypeScript users keep their types.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const cjs = new URL('../dist/cjs/', import.meta.url).pathname;
writeFileSync(join(cjs, 'package.json'), JSON.stringify({ type: 'commonjs' }) + '\n');

/** Every compiled CommonJS module goes; the declarations stay. */
function removeJs(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) removeJs(path);
    else if (entry.name.endsWith('.js') || entry.name.endsWith('.js.map')) rmSync(path);
  }
}
removeJs(cjs);

const entries = { 'index.js': '../esm/index.js', 'testing/index.js': '../../esm/testing/index.js' };
for (const [file, target] of Object.entries(entries)) {
  writeFileSync(
    join(cjs, file),
    `'use strict';\n// The ES module build, so that import and require share one instance.\nmodule.exports = require('${target}');\n`,
  );
}
