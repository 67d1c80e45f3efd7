import http2, { constants, type ClientHttp2Session } from 'node:http2';
import type { ResolvedProbeOptions } from './probe.js';
import type { ProbedRequest } from './report.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']);

/**
 * `{ http2: true }`: the requests go one after another over node:http2 sessions
 * (prior knowledge on `http:`, ALPN on `https:`). A session is the HTTP/2
 * connection: a request is "reused" when its session carried an earlier one. A
 * new session is opened only when the server ended the previous one (GOAWAY or
 * close); a stream the server refused after its GOAWAY (RFC 9113 §6.8) is retried
 * once on a new session, as a client would.
 */
export async function probeHttp2(
  url: URL,
  headers: Record<string, string>,
  options: ResolvedProbeOptions,
): Promise<ProbedRequest[]> {
  const sessions: ClientHttp2Session[] = [];
  const served = new WeakMap<ClientHttp2Session, number>();
  const current = (): ClientHttp2Session => {
    const last = sessions.at(-1);
    if (last !== undefined && !last.closed && !last.destroyed && !goneAway.has(last)) return last;
    // Test servers use self-signed certificates: HTTPS probes do not verify them.
    const session = http2.connect(url, { rejectUnauthorized: false });
    session.on('error', () => {});
    session.once('goaway', () => goneAway.add(session));
    sessions.push(session);
    return session;
  };
  const goneAway = new WeakSet<ClientHttp2Session>();
  const requests: ProbedRequest[] = [];
  try {
    for (let i = 0; i < options.requests; i++) {
      let entry: ProbedRequest;
      try {
        entry = await send(current(), url, headers, options, sessions, served);
      } catch (err) {
        if ((err as { refused?: boolean }).refused !== true) throw err;
        const refusedOn = sessions.indexOf((err as { session: ClientHttp2Session }).session) + 1;
        goneAway.add(sessions.at(-1)!);
        entry = await send(current(), url, headers, options, sessions, served);
        entry.retried = `refused on session ${refusedOn} after the server's GOAWAY; retried on a new session`;
      }
      requests.push(entry);
      // Let a GOAWAY that followed the response arrive before the next request.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    for (const session of sessions) session.destroy();
  }
  return requests;
}

function send(
  session: ClientHttp2Session,
  url: URL,
  headers: Record<string, string>,
  options: ResolvedProbeOptions,
  sessions: ClientHttp2Session[],
  served: WeakMap<ClientHttp2Session, number>,
): Promise<ProbedRequest> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    // HTTP/2 has no connection-specific header fields (RFC 9113 §8.2.2).
    const fields = Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())));
    const stream = session.request({ ...fields, ':method': options.method, ':path': options.path, ':authority': url.host });
    let status = 0;
    let serverConnection: string | undefined;
    stream.setTimeout(options.timeout, () => {
      stream.close(constants.NGHTTP2_CANCEL);
      reject(new Error(`probe: no response to ${options.method} ${options.path} within ${options.timeout} ms`));
    });
    stream.once('response', (h) => {
      status = Number(h[':status']);
      const id = h['x-connection-id'];
      if (typeof id === 'string') serverConnection = id;
    });
    stream.resume();
    stream.once('end', () => {
      const before = served.get(session) ?? 0;
      served.set(session, before + 1);
      const entry: ProbedRequest = {
        status,
        socket: sessions.indexOf(session) + 1,
        reused: before > 0,
        ms: Number(process.hrtime.bigint() - started) / 1e6,
      };
      if (serverConnection !== undefined) entry.serverConnection = serverConnection;
      resolve(entry);
    });
    stream.once('error', (err: NodeJS.ErrnoException) => {
      const refused = stream.rstCode === constants.NGHTTP2_REFUSED_STREAM || err.code === 'ERR_HTTP2_GOAWAY_SESSION';
      reject(Object.assign(err, { refused, session }));
    });
    stream.end(options.body);
  });
}
