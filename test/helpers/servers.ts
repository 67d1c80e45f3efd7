import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { RawClient } from './raw.js';
import express4 from 'express4';
import { connectionPolicy, type ConnectionPolicy, type ConnectionPolicyOptions } from '../../src/index.js';

export type Flavor = 'express5' | 'express4' | 'http';
export const FLAVORS: readonly Flavor[] = ['express5', 'express4', 'http'];

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface TestServer {
  server: http.Server;
  port: number;
  url: string;
  policy: ConnectionPolicy;
  /** Connections the server accepted (its own 'connection' events). */
  readonly accepted: number;
  close(): Promise<void>;
}

export function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Ends every connection and the listener; safe to call twice or after a drain. */
export function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A server on 127.0.0.1:0 with the policy first and `handler` behind it, built the
 * way each flavor's users build it: Express 5, Express 4, or plain node:http
 * calling the middleware by hand.
 */
export async function startServer(
  flavor: Flavor,
  options: ConnectionPolicyOptions | ConnectionPolicy,
  handler: Handler,
  { attach = false, configure }: { attach?: boolean; configure?: (server: http.Server) => void } = {},
): Promise<TestServer> {
  const policy = typeof options === 'function' ? options : connectionPolicy(options);
  let server: http.Server;
  if (flavor === 'http') {
    server = http.createServer((req, res) => {
      policy(req, res, (err?: unknown) => {
        if (err) {
          res.statusCode = 500;
          res.end();
        } else {
          handler(req, res);
        }
      });
    });
  } else {
    const app = flavor === 'express5' ? express() : express4();
    app.use(policy);
    app.use((req, res) => handler(req, res));
    server = http.createServer(app);
  }
  configure?.(server);
  if (attach) policy.attach(server);
  let accepted = 0;
  server.on('connection', () => accepted++);
  const port = await listen(server);
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    policy,
    get accepted() {
      return accepted;
    },
    close: () => closeServer(server),
  };
}

/** The routes most tests share, written against node:http only. */
export const routes: Handler = (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const ms = Number(url.searchParams.get('ms') ?? 0);
  const conn = url.searchParams.get('connection');
  if (conn) res.setHeader('Connection', conn);
  const reply = () => {
    switch (url.pathname) {
      case '/stream':
        // Two writes, no Content-Length: chunked on HTTP/1.1.
        res.write('a');
        setImmediate(() => res.end('b'));
        return;
      case '/204':
      case '/304':
        res.statusCode = Number(url.pathname.slice(1));
        res.end();
        return;
      default:
        res.setHeader('Content-Type', 'text/plain');
        res.setHeader('Content-Length', '2');
        res.end('ok');
    }
  };
  if (ms > 0) setTimeout(reply, ms);
  else reply();
};

/**
 * For a describe block: the server a test starts (`fx.start(…)`) and the raw clients
 * it opens (`fx.connect()`) are all closed after each test.
 */
export function useTestServer() {
  let current: TestServer | undefined;
  const clients: RawClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await current?.close();
    current = undefined;
  });
  // Arrow functions: tests pass `fx.connect` around on its own.
  const connect = async (): Promise<RawClient> => {
    const c = await RawClient.connect(current!.port);
    clients.push(c);
    return c;
  };
  return {
    start: async (...args: Parameters<typeof startServer>): Promise<TestServer> => {
      current = await startServer(...args);
      return current;
    },
    connect,
    /** Connects and writes `payload`. */
    send: async (payload: string): Promise<RawClient> => {
      const c = await connect();
      c.write(payload);
      return c;
    },
  };
}
