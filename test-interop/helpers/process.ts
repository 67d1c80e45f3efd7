// The peers' processes (nginx, HAProxy, the doctor's corpus): a free loopback port,
// waiting for the listener, and a stop that cannot hang.
import type { ChildProcess } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';

/** A port nothing listens on right now (the kernel's pick, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Resolves once something accepts connections on `port`; rejects when `child`
 * exits first or after 10 s, with `describe()` saying what to look at.
 */
export function waitForListening(port: number, child: ChildProcess, describe: () => string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const onExit = (code: number | null) => reject(new Error(`exited with ${code}: ${describe()}`));
    child.once('exit', onExit);
    const poll = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        child.off('exit', onExit);
        resolve();
      });
      s.once('error', () => {
        if (Date.now() > deadline) reject(new Error(`did not listen within 10 s: ${describe()}`));
        else setTimeout(poll, 50);
      });
    };
    poll();
  });
}

/** SIGTERM, then SIGKILL if `child` has not exited after `graceMs`; resolves once it is gone (or was). */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  const running = () => child.exitCode === null && child.signalCode === null;
  if (!running()) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
  if (running()) child.kill('SIGKILL');
}
