// The doctor's corpus: real servers nobody here wrote, each installed from Debian
// (or Node itself), started on a free loopback port with its own config in a fresh
// directory, with the findings the doctor must report on it — exactly.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, stopChild, waitForListening } from './process.js';

const run = promisify(execFile);
const FIXTURES = path.resolve('test-interop/fixtures/corpus');
const WWW = path.join(FIXTURES, 'www');
/** Debian's Python, where python3-twisted, uvicorn, hypercorn and quart are installed. */
const PYTHON = '/usr/bin/python3';

export interface CorpusServer {
  name: string;
  /** The Debian packages it comes from (for the message when one is missing). */
  packages: string[];
  /** The doctor's finding codes on this server under `--idle --max-idle 8000`, in its order. */
  expected: string[];
  /** Why those findings are right. */
  why: string;
  version(): Promise<string>;
  /** The command that serves on `port`, writing any config it needs into `dir`. */
  command(port: number, dir: string): Promise<{ file: string; args: string[]; cwd?: string }>;
}

const pyVersion = async (...modules: string[]) => {
  const code = `from importlib.metadata import version; print(' + '.join(m + ' ' + version(m) for m in ${JSON.stringify(modules)}))`;
  return (await run(PYTHON, ['-c', code])).stdout.trim();
};

export const CORPUS: readonly CorpusServer[] = [
  {
    name: 'nginx (static file)',
    packages: ['nginx'],
    expected: ['no-keep-alive-hint'],
    why: 'sends Connection: keep-alive without a Keep-Alive: timeout hint (keepalive_timeout 75s, no second argument); closes idle connections after 75 s, beyond the 8 s probe',
    version: async () => (await run('nginx', ['-v'])).stderr.trim().replace('nginx version: ', ''),
    async command(port, dir) {
      const conf = `worker_processes 1;
daemon off;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${port}; root ${WWW}; }
}
`;
      await writeFile(path.join(dir, 'nginx.conf'), conf);
      return { file: 'nginx', args: ['-p', dir, '-c', path.join(dir, 'nginx.conf')] };
    },
  },
  {
    name: 'lighttpd (static file)',
    packages: ['lighttpd'],
    expected: ['no-keep-alive-hint', 'idle-timeout-short'],
    why: 'no Keep-Alive hint; server.max-keep-alive-idle defaults to 5 s (its one-second clock makes it 5–6 s)',
    version: async () => (await run('lighttpd', ['-v'])).stdout.split(' ')[0]!.trim(),
    async command(port, dir) {
      const conf = `server.document-root = "${WWW}"
server.port = ${port}
server.bind = "127.0.0.1"
server.pid-file = "${dir}/lighttpd.pid"
server.errorlog = "${dir}/error.log"
index-file.names = ( "index.html" )
`;
      await writeFile(path.join(dir, 'lighttpd.conf'), conf);
      return { file: 'lighttpd', args: ['-D', '-f', path.join(dir, 'lighttpd.conf')] };
    },
  },
  {
    name: "Python's http.server",
    packages: ['python3'],
    expected: ['no-keep-alive'],
    why: 'answers in HTTP/1.0 and closes after every response without a Connection: close (an implied close): no pipelining or idle finding',
    version: async () =>
      `Python ${(await run(PYTHON, ['-c', 'import platform; print(platform.python_version())'])).stdout.trim()}`,
    command: (port) =>
      Promise.resolve({ file: PYTHON, args: ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', WWW, String(port)] }),
  },
  {
    name: 'Twisted Web (static file)',
    packages: ['python3-twisted'],
    expected: ['no-keep-alive-hint'],
    why: 'no Keep-Alive hint; its HTTPFactory idle timeout (60 s) is beyond the 8 s probe',
    version: () => pyVersion('twisted'),
    command: (port) =>
      Promise.resolve({
        file: PYTHON,
        args: ['-m', 'twisted', 'web', '--listen', `tcp:${port}:interface=127.0.0.1`, '--path', WWW],
      }),
  },
  {
    name: 'uvicorn (ASGI app)',
    packages: ['uvicorn'],
    expected: ['no-keep-alive-hint', 'idle-timeout-short'],
    why: 'no Keep-Alive hint; --timeout-keep-alive defaults to 5 s',
    version: () => pyVersion('uvicorn'),
    command: (port) =>
      Promise.resolve({
        file: PYTHON,
        args: ['-m', 'uvicorn', '--host', '127.0.0.1', '--port', String(port), 'asgi_app:app'],
        cwd: FIXTURES,
      }),
  },
  {
    name: "hypercorn + Quart (the seed's server)",
    packages: ['python3-hypercorn', 'python3-quart'],
    expected: ['no-keep-alive-hint', 'nagle-delayed-ack-stall'],
    why: 'writes the head and the body in two pieces with Nagle on: ~40 ms per request on a reused connection, the LocalStack report; idle connections stay open past the 8 s probe',
    version: () => pyVersion('hypercorn', 'quart'),
    command: (port) =>
      Promise.resolve({
        file: PYTHON,
        args: ['-m', 'hypercorn', '--bind', `127.0.0.1:${port}`, 'quart_app:app'],
        cwd: FIXTURES,
      }),
  },
  {
    name: 'node:http (defaults)',
    packages: [],
    expected: ['idle-timeout-short'],
    why: 'advertises Keep-Alive: timeout=5 and closes idle sockets after 5 s plus its 1 s keepAliveTimeoutBuffer: below 60 s load balancers',
    version: async () => `Node ${(await run('node', ['--version'])).stdout.trim()}`,
    command: (port) => Promise.resolve({ file: 'node', args: [path.join(FIXTURES, 'node-http.mjs'), String(port)] }),
  },
  {
    name: 'Express + connectionPolicy()',
    packages: [],
    expected: [],
    why: 'Keep-Alive: timeout=64 below its 65 s idle close, TCP_NODELAY, every persistence rule',
    version: async () => {
      const { version: express } = JSON.parse(await readFile('node_modules/express/package.json', 'utf8')) as { version: string };
      const { version: ours } = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
      return `express ${express} + express-connection-policy ${ours}`;
    },
    command: (port) => Promise.resolve({ file: 'node', args: [path.join(FIXTURES, 'express-policy.mjs'), String(port)] }),
  },
];

export interface RunningServer {
  url: string;
  version: string;
  stop(): Promise<void>;
}

/** Starts `server` on a free loopback port; its output goes to a log in its own directory. */
export async function startCorpusServer(server: CorpusServer): Promise<RunningServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ecp-corpus-'));
  const port = await freePort();
  const log = path.join(dir, 'output.log');
  const { file, args, cwd } = await server.command(port, dir);
  const out = createWriteStream(log);
  const child: ChildProcess = spawn(file, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) =>
      reject(new Error(`${server.name}: cannot run ${file} (${err.message}); install ${server.packages.join(' ') || 'it'}`)),
    );
  });
  const stop = async () => {
    await stopChild(child);
    out.end();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await spawned;
    await waitForListening(port, child, () => `${server.name}: see ${log}`);
    return { url: `http://127.0.0.1:${port}/`, version: await server.version(), stop };
  } catch (err) {
    const output = await readFile(log, 'utf8').catch(() => '');
    await stop();
    throw new Error(`${(err as Error).message}\n${output.slice(-2000)}`, { cause: err });
  }
}
