import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { supertestAgentParts } from '../node-internals.js';

/**
 * What a probe can be pointed at: a supertest agent (`request.agent(appOrServer)`),
 * an `http.Server` / `https.Server` (listening or not), an Express app or any
 * `(req, res)` handler, or a URL string.
 */
export type ProbeTarget =
  string | URL | net.Server | ((req: http.IncomingMessage, res: http.ServerResponse) => void) | SupertestAgentLike;

/**
 * A supertest `TestAgent` (`request.agent(appOrServer)`). Its typings do not declare
 * the server it targets, so any object is accepted here and checked at run time.
 */
export type SupertestAgentLike = object;

export interface ResolvedTarget {
  url: URL;
  /** Headers recorded on a supertest agent with `.set(name, value)`. */
  headers: Record<string, string>;
  /** Closes what the probe started; a no-op for a target that was already listening. */
  close(): Promise<void>;
}

export function urlOf(server: net.Server): URL {
  const address = server.address();
  if (address === null || typeof address === 'string') {
    throw new TypeError('probe target: the server listens on a pipe, not a TCP port');
  }
  const scheme = server instanceof tls.Server ? 'https' : 'http';
  // A wildcard bind is reachable on loopback.
  const host =
    address.address === '::' || address.address === '0.0.0.0'
      ? '127.0.0.1'
      : address.family === 'IPv6'
        ? `[${address.address}]`
        : address.address;
  return new URL(`${scheme}://${host}:${address.port}/`);
}

export function listenOnLoopback(server: net.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export function closeStarted(server: net.Server): Promise<void> {
  if (server instanceof http.Server || server instanceof https.Server) server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Finds (or starts, on 127.0.0.1:0) the server behind a target. */
export async function resolveTarget(target: ProbeTarget): Promise<ResolvedTarget> {
  const headers: Record<string, string> = {};
  let subject: unknown = target;
  const agent = target instanceof net.Server ? undefined : supertestAgentParts(target);
  if (agent !== undefined) {
    Object.assign(headers, agent.headers);
    subject = agent.app;
  }
  if (typeof subject === 'string' || subject instanceof URL) {
    const url = new URL(subject);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`probe target: only http: and https: URLs can be probed; got ${url.protocol}`);
    }
    return { url, headers, close: async () => {} };
  }
  if (typeof subject === 'function') {
    // An Express app (or any request listener) nobody started.
    subject = http.createServer(subject as http.RequestListener);
  }
  if (subject instanceof net.Server) {
    const server = subject;
    if (server.listening) return { url: urlOf(server), headers, close: async () => {} };
    await listenOnLoopback(server);
    return { url: urlOf(server), headers, close: () => closeStarted(server) };
  }
  throw new TypeError(
    'probe target must be a supertest agent, an http.Server, an Express app, or a URL string; ' +
      `got ${target === null ? 'null' : typeof target}`,
  );
}
