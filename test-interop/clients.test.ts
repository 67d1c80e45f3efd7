import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { curl, pythonRequests, type HttpClient } from '../bench/lib/clients.js';
import { startEchoServer, type ServerProcess } from '../bench/lib/server-process.js';

const run = promisify(execFile);

// Real clients against the echo example: one connection under 'keep-alive', one per
// request under 'close'.
describe('real clients', function () {
  this.timeout(60_000);
  const servers: Partial<Record<'keep-alive' | 'close', ServerProcess>> = {};
  before(async () => {
    servers['keep-alive'] = await startEchoServer('keep-alive', 0);
    servers.close = await startEchoServer('close', 0);
  });
  after(async () => {
    await servers['keep-alive']?.stop();
    await servers.close?.stop();
  });

  async function connectionsFor(policy: 'keep-alive' | 'close', use: (url: string) => Promise<unknown>): Promise<number> {
    const server = servers[policy]!;
    const before = (await server.stats()).accepted;
    await use(server.url);
    return (await server.stats()).accepted - before;
  }

  for (const client of [pythonRequests, curl] as HttpClient[]) {
    describe(client.name, () => {
      before(function () {
        const why = client.unavailable();
        if (why) {
          console.log(`      skipped: ${why}`);
          this.skip();
        }
      });
      it("reuses one connection under 'keep-alive'", async () => {
        expect(await connectionsFor('keep-alive', (url) => client.run(url, 10))).to.equal(1);
      });
      it("uses one connection per request under 'close'", async () => {
        expect(await connectionsFor('close', (url) => client.run(url, 10))).to.equal(10);
      });
    });
  }

  describe('ab (ApacheBench, HTTP/1.0)', () => {
    before(async function () {
      try {
        await run('ab', ['-V']);
      } catch {
        console.log('      skipped: not installed: apt-get install -y apache2-utils');
        this.skip();
      }
    });
    it('without -k (no keep-alive token) gets a close per request', async () => {
      let out = '';
      const n = await connectionsFor('keep-alive', async (url) => {
        out = (await run('ab', ['-n', '20', '-c', '1', url])).stdout;
      });
      expect(n).to.equal(20);
      expect(out).to.match(/Complete requests:\s+20/);
      expect(out).to.match(/Failed requests:\s+0/);
      expect(out).to.not.match(/Keep-Alive requests/);
    });
    it('with -k keeps one connection alive', async () => {
      let out = '';
      const n = await connectionsFor('keep-alive', async (url) => {
        out = (await run('ab', ['-k', '-n', '20', '-c', '1', url])).stdout;
      });
      expect(n).to.equal(1);
      expect(out).to.match(/Keep-Alive requests:\s+20/);
      expect(out).to.match(/Failed requests:\s+0/);
    });
  });
});
