import { expect } from 'chai';
import { startServerProcess, type ServerProcess } from '../bench/lib/server-process.js';
import { nodeLane } from './helpers/lanes.js';
import { startNginx, type Nginx } from './helpers/nginx.js';
import { freePort } from './helpers/process.js';

// Two instances behind nginx under continuous keep-alive load, drained and
// restarted one at a time (SIGTERM → drain({ idleGrace: 1000 }) → exit, then a new
// process on the same port): every request is answered. The grace matters: nginx
// does not retry a POST that was written to a pooled connection the server had just
// closed, so idle pooled connections are closed by answering their next request
// with Connection: close rather than by the server ending them first.
describe('rolling restart behind nginx', function () {
  this.timeout(120_000);
  let nginx: Nginx;
  const instances: ServerProcess[] = [];
  afterEach(async () => {
    await nginx?.stop();
    for (const i of instances.splice(0)) await i.stop();
  });

  async function start(port: number): Promise<ServerProcess> {
    // The old process gave the port up at the start of its drain; a moment may pass.
    for (let attempt = 0; ; attempt++) {
      try {
        const p = await startServerProcess('test-interop/fixtures/policy-server.ts', [
          '--port',
          String(port),
          '--idle-grace',
          '1000',
        ]);
        instances.push(p);
        return p;
      } catch (err) {
        if (attempt > 20) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  it('drains and restarts each instance with zero failed requests', async () => {
    const ports = [await freePort(), await freePort()];
    const current = [await start(ports[0]!), await start(ports[1]!)];
    nginx = await startNginx({ upstreams: ports, keepalive: 16 });
    let stop = false;
    const statuses: Record<number, number> = {};
    const failures: string[] = [];
    const pids = new Set<string>();
    const lanes = Array.from({ length: 6 }, async (_, n) => {
      const lane = nodeLane(nginx.url, {}, n % 2 === 0 ? 'GET' : 'POST');
      for (let i = 0; !stop && i < 50_000; i++) {
        try {
          const { status } = await lane.send();
          statuses[status] = (statuses[status] ?? 0) + 1;
        } catch (err) {
          failures.push((err as NodeJS.ErrnoException).code ?? String(err));
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      await lane.close();
    });
    const sample = setInterval(() => {
      for (const i of current) pids.add(String(i.pid));
    }, 50);
    await new Promise((r) => setTimeout(r, 700));
    for (const k of [0, 1]) {
      const old = current[k]!;
      await old.stop(); // SIGTERM: drain(), then exit
      current[k] = await start(ports[k]!);
      await new Promise((r) => setTimeout(r, 700));
    }
    stop = true;
    await Promise.all(lanes);
    clearInterval(sample);
    const served = (await Promise.all(current.map((i) => i.usage()))).map((u) => u!.served);
    console.log(
      `      ${JSON.stringify(statuses)} answered, ${failures.length} failed; new instances served ${served.join(' + ')}`,
    );
    expect(failures).to.deep.equal([]);
    expect(Object.keys(statuses)).to.deep.equal(['200']);
    expect(statuses[200]).to.be.greaterThan(500);
    for (const s of served) expect(s).to.be.greaterThan(0);
  });
});
