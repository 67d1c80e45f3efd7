import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Every keep/close decision is logged with its reason (NODE_DEBUG=connection-policy).
describe("debug log (util.debuglog('connection-policy'))", () => {
  it('logs each decision with its reason', async function () {
    this.timeout(20_000);
    const script = fileURLToPath(new URL('./fixtures/debug-app.ts', import.meta.url));
    const stderr = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', script],
        { env: { ...process.env, NODE_DEBUG: 'connection-policy' }, timeout: 15_000 },
        (err, _stdout, stderr) => {
          if (err) reject(new Error(`debug-app failed: ${err.message}`, { cause: err }));
          else resolve(stderr);
        },
      );
    });
    const lines = stderr.split('\n').filter((l) => l.startsWith('CONNECTION-POLICY'));
    expect(lines.join('\n')).to.match(/sock#\d+ req#1 keep-alive: persistent by default \(RFC 9112 §9\.3\)/);
    expect(lines.join('\n')).to.match(/sock#\d+ req#2 close: maxRequests reached \(2\/2\)/);
    expect(lines.join('\n')).to.match(/sock#\d+ req#1 close: client sent Connection: close \(RFC 9112 §9\.6\)/);
    expect(lines.join('\n')).to.match(/sock#\d+ closed \(maxRequests\) after 2 request\(s\)/);
    expect(lines.join('\n')).to.match(/drain: done/);
  });
});
