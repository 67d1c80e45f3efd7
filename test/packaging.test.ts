import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

// The package as users get it: `npm pack`, installed into a fresh project, loaded
// with import and require, on Express 4 and 5, with its types. `npm test` builds
// dist/ first (pretest), so this checks what would be published.
const CONSUMER_ESM = `
import http from 'node:http';
import express5 from 'express';
import express4 from 'express4';
import { connectionPolicy, connectionInfo } from 'express-connection-policy';
import * as testing from 'express-connection-policy/testing';
for (const [name, express] of [['express5', express5], ['express4', express4]]) {
  const policy = connectionPolicy({ exposeConnectionId: true });
  const app = express();
  app.use(policy);
  app.get('/', (req, res) => res.send(String(connectionInfo(req).requests)));
  const server = policy.attach(app.listen(0, '127.0.0.1'));
  await new Promise((r) => server.once('listening', r));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const heads = [];
  for (let i = 0; i < 2; i++) {
    heads.push(await new Promise((resolve, reject) => http.get({ port: server.address().port, host: '127.0.0.1', agent }, (res) => {
      res.resume(); res.on('end', () => resolve([res.headers.connection, res.headers['keep-alive'], res.headers['x-connection-id']]));
    }).on('error', reject)));
  }
  agent.destroy();
  const report = await testing.expectReusedConnection(server, { requests: 3 });
  await policy.drain();
  console.log(name, JSON.stringify(heads), report.sockets, typeof testing);
}
`;
const CONSUMER_CJS = `
const { connectionPolicy } = require('express-connection-policy');
const testing = require('express-connection-policy/testing');
if (typeof testing.expectReusedConnection !== 'function') throw new Error('no helpers');
const express = require('express4');
const app = express();
app.use(connectionPolicy({ policy: 'close' }));
console.log('cjs', typeof connectionPolicy, typeof testing, typeof app);
try { connectionPolicy({ idleTimeout: -1 }); } catch (e) { console.log(e.name, e.code); }
`;
// A process that imports the package and also requires it (as a CommonJS dependency
// would): one instance, so one connection-id sequence.
const CONSUMER_BOTH = `
import http from 'node:http';
import { createRequire } from 'node:module';
import * as imported from 'express-connection-policy';
const required = createRequire(import.meta.url)('express-connection-policy');
const ids = [];
for (const pkg of [imported, required, imported, required]) {
  const policy = pkg.connectionPolicy();
  const server = policy.attach(http.createServer((req, res) => policy(req, res, () => res.end(String(pkg.connectionInfo(req).id)))));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  ids.push(await new Promise((resolve, reject) => http.get({ port: server.address().port, host: '127.0.0.1', agent: false }, (res) => {
    let body = ''; res.on('data', (d) => (body += d)); res.on('end', () => resolve(Number(body)));
  }).on('error', reject)));
  await policy.drain();
}
console.log('same', imported.connectionPolicy === required.connectionPolicy, imported.connectionInfo === required.connectionInfo);
console.log('ids', JSON.stringify(ids));
`;
const CONSUMER_MTS = `
import express from 'express';
import { connectionPolicy, connectionInfo, type ConnectionStats, type DrainResult, type ConnectionInfo } from 'express-connection-policy';
const policy = connectionPolicy({ policy: (req, info: ConnectionInfo) => (info.requests > 10 ? 'close' : 'keep-alive') });
const app = express();
app.use(policy);
app.get('/', (req, res) => { const info: ConnectionInfo | undefined = connectionInfo(req); res.json(info); });
const server = policy.attach(app.listen(0));
const stats: ConnectionStats = policy.stats();
const done: Promise<DrainResult> = policy.drain({ timeout: 1000 });
void server; void stats; void done;
`;
const CONSUMER_CTS = `
import cp = require('express-connection-policy');
const policy = cp.connectionPolicy({ maxRequests: 100 });
const n: number = policy.stats().open;
export = n;
`;

describe('the packed package (npm pack → fresh project)', () => {
  let dir: string;
  before(async function () {
    this.timeout(180_000);
    dir = await mkdtemp(path.join(tmpdir(), 'ecp-consumer-'));
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: root });
    const tarball = (await readdir(dir)).find((f) => f.endsWith('.tgz'))!;
    await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    await run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        `./${tarball}`,
        'express@^5',
        'express4@npm:express@^4',
        '@types/express@^5',
        '@types/node@^20',
      ],
      { cwd: dir },
    );
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("ships only dist/, the doctor's schema and the package files", async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root });
    const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    expect(files.filter((f) => !f.startsWith('dist/')).sort()).to.deep.equal([
      'LICENSE',
      'README.md',
      'package.json',
      'schema/doctor.json',
    ]);
    for (const entry of ['esm/index', 'cjs/index', 'esm/testing/index', 'cjs/testing/index']) {
      expect(files).to.include(`dist/${entry}.js`);
      expect(files).to.include(`dist/${entry}.d.ts`);
    }
  });

  it('works from import on Express 5 and Express 4', async () => {
    await writeFile(path.join(dir, 'esm.mjs'), CONSUMER_ESM);
    const { stdout } = await run(process.execPath, ['esm.mjs'], { cwd: dir, timeout: 20_000 });
    for (const name of ['express5', 'express4']) {
      const line = stdout.split('\n').find((l) => l.startsWith(name))!;
      const [, json, sockets] = line.split(' ');
      const heads = JSON.parse(json!) as string[][];
      expect(sockets).to.equal('1');
      expect(heads[0]!.slice(0, 2)).to.deep.equal(['keep-alive', 'timeout=64']);
      expect(heads[1]![2]).to.match(/;req=2$/);
      expect(line.endsWith('object')).to.equal(true);
    }
  });

  it('works from require', async () => {
    await writeFile(path.join(dir, 'cjs.cjs'), CONSUMER_CJS);
    const { stdout } = await run(process.execPath, ['cjs.cjs'], { cwd: dir, timeout: 20_000 });
    expect(stdout).to.include('cjs function object function');
    expect(stdout).to.include('RangeError ERR_OUT_OF_RANGE');
  });

  it('is one instance when both imported and required in one process: one id sequence', async () => {
    await writeFile(path.join(dir, 'both.mjs'), CONSUMER_BOTH);
    const { stdout, stderr } = await run(process.execPath, ['both.mjs'], { cwd: dir, timeout: 20_000 });
    expect(stdout).to.include('same true true');
    const ids = JSON.parse(/^ids (.*)$/m.exec(stdout)![1]!) as number[];
    expect(ids.map((id) => id - ids[0]!)).to.deep.equal([0, 1, 2, 3]);
    // require() of the ES module build warns about nothing on the supported lines.
    expect(stderr).to.not.match(/Warning/);
  });

  it('installs the connection-doctor bin', async () => {
    const { stdout } = await run(path.join(dir, 'node_modules', '.bin', 'connection-doctor'), ['--help'], { cwd: dir });
    expect(stdout).to.match(/^usage: connection-doctor <url>/);
    const bad = await run(path.join(dir, 'node_modules', '.bin', 'connection-doctor'), [], { cwd: dir }).then(
      () => 0,
      (err: { code: number; stderr: string }) => [err.code, err.stderr.trim().split('\n').length],
    );
    expect(bad).to.deep.equal([2, 1]);
  });

  it('type-checks for ESM and CommonJS TypeScript consumers', async function () {
    this.timeout(60_000);
    await writeFile(path.join(dir, 'a.mts'), CONSUMER_MTS);
    await writeFile(path.join(dir, 'b.cts'), CONSUMER_CTS);
    await writeFile(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
        files: ['a.mts', 'b.cts'],
      }),
    );
    await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir });
  });
});
