// The client side of slice-server.ts: starts it (on core 0, this process on core 1,
// where `taskset` exists) with the servers asked for, and talks to it over IPC.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median } from './measure.js';
import { hasTaskset } from './server-process.js';

export type Batch = [cpu: number, requests: number];
/** The median batch's CPU per request: robust to a GC pause or a neighbour's burst landing on one batch. */
export const perRequest = (batches: Batch[]): number => median(batches.map(([cpu, requests]) => cpu / requests));
export interface Servers {
  ports: Record<string, number>;
  /** Attributes CPU to batches of these servers from now on. */
  attribute(names: string[]): Promise<unknown>;
  /** The batches since the last report, per server. */
  report(): Promise<{ batches: Record<string, Batch[]> }>;
  stop(): void;
}

export function startServers(names: string[], baseline?: string): Promise<Servers> {
  const script = fileURLToPath(new URL('slice-server.ts', import.meta.url));
  const args = [
    process.execPath,
    '--import',
    'tsx',
    script,
    '--servers',
    names.join(','),
    ...(baseline ? ['--baseline', baseline] : []),
  ];
  const command = hasTaskset ? ['taskset', '-c', '0', ...args] : args;
  const child = spawn(command[0]!, command.slice(1), {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  if (hasTaskset) spawnSync('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  const waiting: Array<(m: unknown) => void> = [];
  const ask = <T>(message: object) =>
    new Promise<T>((ok) => {
      waiting.push(ok as (m: unknown) => void);
      child.send(message);
    });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`slice-server exited with ${code}`)));
    child.on('message', (message: { ports?: Record<string, number> }) => {
      if (message.ports !== undefined) {
        resolve({
          ports: message.ports,
          attribute: (names) => ask({ attribute: names }),
          report: () => ask({ report: true }),
          stop: () => child.disconnect(),
        });
      } else {
        waiting.shift()?.(message);
      }
    });
  });
}
