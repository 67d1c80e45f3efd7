import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ensureBuilt } from './helpers/build.js';

// The copyable client-reuse tests in examples/, run the way their headers say,
// against the built package (they import 'express-connection-policy/testing').
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function run(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('examples/client-reuse.*', function () {
  this.timeout(30_000);
  before(function () {
    this.timeout(120_000);
    ensureBuilt();
  });

  it('the mocha variant passes', async () => {
    const { code, output } = await run([
      '--import',
      'tsx',
      'node_modules/mocha/bin/mocha.js',
      '--no-config',
      'examples/client-reuse.mocha.ts',
    ]);
    expect(code, output).to.equal(0);
    expect(output).to.match(/1 passing/);
  });

  it('the node:test variant passes', async () => {
    // TAP explicitly: the default reporter differs between Node lines (spec from 24 on).
    const { code, output } = await run([
      '--import',
      'tsx',
      '--test',
      '--test-reporter=tap',
      'examples/client-reuse.node-test.ts',
    ]);
    expect(code, output).to.equal(0);
    expect(output).to.match(/# pass 1\b/);
    expect(output).to.match(/# fail 0\b/);
  });
});
