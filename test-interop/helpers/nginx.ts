// nginx as a reverse proxy in front of our servers: its own config, pid file,
// temp and log paths in a fresh directory, a free loopback port, stopped by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, stopChild, waitForListening } from './process.js';

export interface Nginx {
  url: string;
  dir: string;
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

export interface NginxOptions {
  upstreams: number[];
  /** `keepalive N;` in the upstream block: the idle connection pool per worker. */
  keepalive?: number;
  /** nginx's `keepalive_timeout` for upstream connections (its default is 60s). */
  upstreamKeepaliveTimeout?: string;
  /** Extra lines inside `location /`. */
  location?: string[];
  /** Extra lines inside `server`, before `location /` (e.g. `keepalive_timeout 2s;`). */
  server?: string[];
}

export async function startNginx(options: NginxOptions): Promise<Nginx> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ecp-nginx-'));
  const port = await freePort();
  const conf = `
worker_processes 1;
daemon off;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 1024; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app {
${options.upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=0;`).join('\n')}
    keepalive ${options.keepalive ?? 16};
    keepalive_timeout ${options.upstreamKeepaliveTimeout ?? '60s'};
  }
  server {
    listen 127.0.0.1:${port};
${(options.server ?? []).map((l) => `    ${l}`).join('\n')}
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
${(options.location ?? []).map((l) => `      ${l}`).join('\n')}
    }
  }
}
`;
  await writeFile(path.join(dir, 'nginx.conf'), conf);
  const child: ChildProcess = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'ignore' });
  await waitForListening(port, child, () => `nginx: see ${dir}/error.log`);
  return {
    url: `http://127.0.0.1:${port}/`,
    dir,
    errorLog: () => readFile(path.join(dir, 'error.log'), 'utf8'),
    async stop() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
