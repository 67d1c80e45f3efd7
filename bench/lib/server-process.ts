// Starts a server script of this repository in its own process (client and server
// must not share an event loop when latency is measured), on a free port, and
// talks to it over stdin/stdout: it prints `listening on <url>`, and answers a
// `stats` line with `{"stats": …}`.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ConnectionStats } from '../../src/index.js';

/** What a server reports of itself besides the policy's stats. */
export interface Usage {
  cpuMicros: number;
  served: number;
  /** Connections accepted, counted by the server itself. */
  accepted?: number;
}

export interface ServerProcess {
  url: string;
  pid: number;
  /** The server's `policy.stats()`, asked over stdin. */
  stats(): Promise<ConnectionStats>;
  /** CPU time used and requests served so far, where the server reports them. */
  usage(): Promise<Usage | undefined>;
  stop(): Promise<void>;
}

/** `--import tsx` resolves from the working directory: the repository's. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const hasTaskset = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' }).status === 0;

/**
 * `script` is relative to the repository. With `cpu`, the server is pinned to that
 * core (where `taskset` exists) so a load generator on the other core does not
 * compete with it.
 */
export function startServerProcess(script: string, args: string[], { cpu }: { cpu?: number } = {}): Promise<ServerProcess> {
  const node = [process.execPath, '--import', 'tsx', fileURLToPath(new URL(`../../${script}`, import.meta.url)), ...args];
  const command = cpu !== undefined && hasTaskset ? ['taskset', '-c', String(cpu), ...node] : node;
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    type Reply = { stats: ConnectionStats; usage?: Usage };
    const waiting: Array<(reply: Reply) => void> = [];
    const ask = () =>
      new Promise<Reply>((ok) => {
        waiting.push(ok);
        child.stdin.write('stats\n');
      });
    let started = false;
    const timer = setTimeout(() => reject(new Error(`${script} did not start in 15 s`)), 15_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      if (!started) reject(new Error(`${script} ${args.join(' ')} exited with ${code}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const listening = line.match(/listening on (http:\/\/\S+)/);
      if (listening && !started) {
        started = true;
        clearTimeout(timer);
        resolve({
          url: listening[1]!,
          pid: child.pid!,
          stats: () => ask().then((r) => r.stats),
          usage: () => ask().then((r) => r.usage),
          stop: () =>
            new Promise((ok) => {
              // Exited already: with a status, or killed by a signal (a NestJS app re-raises SIGTERM).
              if (child.exitCode !== null || child.signalCode !== null) return ok();
              child.once('exit', () => ok());
              child.kill('SIGTERM');
            }),
        });
      } else if (line.startsWith('{"stats"')) {
        waiting.shift()?.(JSON.parse(line) as Reply);
      }
    });
  });
}

/** examples/echo-server.ts under one policy. */
export function startEchoServer(policy: 'keep-alive' | 'close', waitMs = 5): Promise<ServerProcess> {
  return startServerProcess('examples/echo-server.ts', ['--policy', policy, '--port', '0', '--wait-ms', String(waitMs)]);
}
