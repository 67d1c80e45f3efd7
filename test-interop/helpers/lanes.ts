import http from 'node:http';
import { Pool } from 'undici';
import type { Lane } from './race.js';

const BODY = 'Action=ListQueues&Version=2012-11-05';

/** Same upstream connection as the previous response, by the server's x-connection-id. */
function reuseTracker() {
  let last: string | undefined;
  return (id: string | undefined) => {
    const conn = id?.split(';')[0];
    const reused = conn !== undefined && conn === last;
    last = conn;
    return reused;
  };
}

/** Node's http.Agent with keep-alive (and `timeout` if given: then it honours Keep-Alive hints). */
export function nodeLane(url: string, agentOptions: http.AgentOptions = {}, method = 'POST'): Lane {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1, ...agentOptions });
  const seen = reuseTracker();
  return {
    send: () =>
      new Promise((resolve, reject) => {
        const req = http.request(
          url,
          { method, agent, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
          (res) => {
            res.resume();
            res.on('end', () => {
              seen(res.headers['x-connection-id'] as string | undefined);
              resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket });
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(method === 'GET' ? undefined : BODY);
      }),
    close: () => {
      agent.destroy();
      return Promise.resolve();
    },
  };
}

/** undici with one connection; reuse is read from the server's x-connection-id. */
export function undiciLane(url: string, method: 'GET' | 'POST' = 'POST'): Lane {
  const pool = new Pool(new URL(url).origin, { connections: 1 });
  const seen = reuseTracker();
  return {
    async send() {
      const res = await pool.request({
        path: new URL(url).pathname,
        method,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        ...(method === 'POST' ? { body: BODY } : {}),
      });
      await res.body.text();
      return { status: res.statusCode, reused: seen(res.headers['x-connection-id'] as string | undefined) };
    },
    close: () => pool.close(),
  };
}
