import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import express from 'express';
import { connectionPolicy } from '../src/index.js';
import {
  expectResetConnection,
  expectReusedConnection,
  recordConnections,
  type ConnectionRecorder,
} from '../src/testing/index.js';

// recordConnections() with clients that are not Node: curl and Python's requests,
// the clients of the LocalStack report.
/** Debian's python3, where python3-requests installs. */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(command, args, { timeout: 20_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${command}: ${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
}

describe('recordConnections() with curl and Python requests', () => {
  let recorder: ConnectionRecorder;
  beforeEach(async () => {
    const app = express();
    app.use(connectionPolicy());
    app.all('/queue', (req, res) => {
      req.resume();
      req.on('end', () => void res.send('ok'));
    });
    recorder = await recordConnections(app);
  });
  afterEach(() => recorder.close());

  it('curl: many URLs in one invocation reuse one connection; one invocation per request does not', async () => {
    const url = recorder.url + 'queue';
    await run('curl', ['-s', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', url, url, url]);
    await expectReusedConnection(recorder, { connections: 1, requests: 3 });
    recorder.clear();
    for (let i = 0; i < 3; i++) await run('curl', ['-s', '-o', '/dev/null', url]);
    await expectResetConnection(recorder, { requests: 3 });
  });

  it('Python: requests.Session() reuses its connection; requests.get() does not', async () => {
    const url = recorder.url + 'queue';
    await run(PYTHON, [
      '-c',
      `import requests\ns = requests.Session()\nfor _ in range(4): s.post(${JSON.stringify(url)}, data='Action=ListQueues')`,
    ]);
    await expectReusedConnection(recorder, { connections: 1, requests: 4 });
    expect(recorder.requests.map((r) => r.method)).to.deep.equal(['POST', 'POST', 'POST', 'POST']);
    recorder.clear();
    await run(PYTHON, ['-c', `import requests\nfor _ in range(3): requests.get(${JSON.stringify(url)})`]);
    await expectResetConnection(recorder, { requests: 3 });
  });
});
