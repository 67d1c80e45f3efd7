// HAProxy in front of our servers: its own config, pid file and admin socket in a
// fresh directory, a free loopback port, stopped by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, stopChild, waitForListening } from './process.js';

export interface HaproxyOptions {
  upstreams: number[];
  /** Active health checks: `option httpchk GET <path>`, `inter 200 fall 1 rise 1`; none when undefined. */
  healthCheck?: string;
  /** `h2`: HTTP/2 to the backends, prior knowledge (`proto h2`, and `check-proto h2` for the checks). */
  proto?: 'h2';
  /** HAProxy's `retry-on` (L7 retries); HAProxy's default (`conn-failure`) when undefined. */
  retryOn?: string;
  /** More `defaults` lines, after the ones above (a later `timeout` line of the same kind wins). */
  defaults?: string[];
}

/** One backend server's line of HAProxy's `show stat`. */
export interface ServerStat {
  name: string;
  status: string;
  /** Requests HAProxy retried (`wretr`) and redispatched (`wredis`) on this server. */
  retries: number;
  redispatches: number;
  /** Responses by class, as HAProxy counted them. */
  hrsp5xx: number;
}

export interface Haproxy {
  url: string;
  dir: string;
  stats(): Promise<ServerStat[]>;
  /** Resolves once HAProxy sees `server` (`s1`, `s2`, …) with this status (`UP`, `DOWN`). */
  waitFor(server: string, status: 'UP' | 'DOWN', timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startHaproxy(options: HaproxyOptions): Promise<Haproxy> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ecp-haproxy-'));
  const port = await freePort();
  const socketPath = path.join(dir, 'admin.sock');
  const check = options.healthCheck;
  const h2 = options.proto === 'h2' ? ' proto h2' : '';
  // Over h2 the check must say HTTP/2 (with the default HTTP/1.0 HAProxy 2.6 reports a socket error).
  const checkRequest =
    options.proto === 'h2'
      ? `  option httpchk\n  http-check send meth GET uri ${check} ver HTTP/2 hdr host localhost`
      : `  option httpchk GET ${check}`;
  const conf = `
global
  pidfile ${dir}/haproxy.pid
  stats socket ${socketPath} mode 600 level admin
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 30s
  option http-keep-alive
  retries 3
  option redispatch
${options.retryOn ? `  retry-on ${options.retryOn}\n` : ''}${(options.defaults ?? []).map((l) => `  ${l}\n`).join('')}frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  balance roundrobin
  http-reuse always
${check ? `${checkRequest}\n  http-check expect status 200\n  default-server inter 200 fall 1 rise 1` : ''}
${options.upstreams.map((p, i) => `  server s${i + 1} 127.0.0.1:${p}${h2}${check ? ` check${options.proto === 'h2' ? ' check-proto h2' : ''}` : ''}`).join('\n')}
`;
  await writeFile(path.join(dir, 'haproxy.cfg'), conf);
  let output = '';
  const child: ChildProcess = spawn('haproxy', ['-db', '-f', path.join(dir, 'haproxy.cfg')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  await waitForListening(port, child, () => `haproxy: ${output}`);

  const admin = (command: string) =>
    new Promise<string>((resolve, reject) => {
      let out = '';
      const s = net.connect(socketPath);
      s.on('data', (d: Buffer) => (out += d.toString()));
      s.once('error', reject);
      s.once('close', () => resolve(out));
      s.end(`${command}\n`);
    });

  const stats = async (): Promise<ServerStat[]> => {
    const [header, ...rows] = (await admin('show stat')).trim().split('\n');
    const columns = header!.replace(/^# /, '').split(',');
    const col = (row: string[], name: string) => row[columns.indexOf(name)] ?? '';
    return rows
      .map((line) => line.split(','))
      .filter((row) => col(row, 'pxname') === 'be' && /^s\d+$/.test(col(row, 'svname')))
      .map((row) => ({
        name: col(row, 'svname'),
        status: col(row, 'status'),
        retries: Number(col(row, 'wretr') || 0),
        redispatches: Number(col(row, 'wredis') || 0),
        hrsp5xx: Number(col(row, 'hrsp_5xx') || 0),
      }));
  };

  return {
    url: `http://127.0.0.1:${port}/`,
    dir,
    stats,
    async waitFor(server, status, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = (await stats()).find((x) => x.name === server);
        if (s?.status.startsWith(status)) return;
        if (Date.now() > deadline) throw new Error(`haproxy: ${server} not ${status} within ${timeoutMs} ms (${s?.status})`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
