// Starts examples/echo-server.ts in its own process (client and server must not
// share an event loop when latency is measured), on a free port.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ConnectionStats } from '../../src/index.js';

export interface EchoServer {
  policy: 'keep-alive' | 'close';
  url: string;
  /** The server's `policy.stats()`, asked over stdin. */
  stats(): Promise<ConnectionStats>;
  stop(): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL('../../examples/echo-server.ts', import.meta.url));
/** `--import tsx` resolves from the working directory: the repository's. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function startEchoServer(policy: 'keep-alive' | 'close', waitMs = 5): Promise<EchoServer> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', SCRIPT, '--policy', policy, '--port', '0', '--wait-ms', String(waitMs)], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const waiting: Array<(s: ConnectionStats) => void> = [];
    let started = false;
    const timer = setTimeout(() => reject(new Error(`echo-server (${policy}) did not start in 15 s`)), 15_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      if (!started) reject(new Error(`echo-server (${policy}) exited with ${code}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const listening = line.match(/listening on (http:\/\/\S+)/);
      if (listening && !started) {
        started = true;
        clearTimeout(timer);
        resolve({
          policy,
          url: listening[1]!,
          stats: () =>
            new Promise((ok) => {
              waiting.push(ok);
              child.stdin!.write('stats\n');
            }),
          stop: () =>
            new Promise((ok) => {
              if (child.exitCode !== null) return ok();
              child.once('exit', () => ok());
              child.kill('SIGTERM');
            }),
        });
      } else if (line.startsWith('{"stats"')) {
        waiting.shift()?.((JSON.parse(line) as { stats: ConnectionStats }).stats);
      }
    });
  });
}
