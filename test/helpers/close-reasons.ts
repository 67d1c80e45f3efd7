import { expect } from 'chai';
import { get } from './raw.js';
import { eventually } from './wait.js';
import type { TestServer, useTestServer } from './servers.js';
import type { ConnectionStats } from '../../src/index.js';

/** Polls `stats()` until `check` holds (3 s at most), and returns them. */
export async function until(ts: TestServer, check: (s: ConnectionStats) => boolean): Promise<ConnectionStats> {
  await eventually(
    () => check(ts.policy.stats()),
    () => `stats to match; last ${JSON.stringify(ts.policy.stats())}`,
  );
  return ts.policy.stats();
}

/**
 * One connection closed for each close reason but 'drain' (which ends a policy):
 * client, policy, maxRequests, error, maxAge, idleTimeout — six connections.
 * Resolves once all of them are closed.
 */
export async function closeEveryWay(fx: ReturnType<typeof useTestServer>): Promise<{ ts: TestServer; stats: ConnectionStats }> {
  const ts = await fx.start(
    'express5',
    {
      policy: (req) => (req.url === '/policy' ? 'close' : 'keep-alive'),
      maxRequests: 3,
      maxAge: 300,
      maxAgeJitter: 0,
      idleTimeout: 1000,
    },
    (req, res) => {
      if (req.url === '/hang') return; // reset by the client below
      res.end('x');
    },
    { attach: true },
  );
  // client: the request asks for close
  const client = await fx.connect();
  client.write(get('/', 'Connection: close'));
  await client.response();
  // policy: the function answers close
  const policy = await fx.connect();
  policy.write(get('/policy'));
  await policy.response();
  // maxRequests: three requests on one connection
  const maxRequests = await fx.connect();
  for (let i = 0; i < 3; i++) {
    maxRequests.write(get('/'));
    await maxRequests.response();
  }
  // error: reset by the peer with a request in flight
  const error = await fx.connect();
  error.write(get('/hang'));
  await until(ts, (s) => s.requests === 6);
  error.socket.resetAndDestroy();
  // maxAge: the first response after 300 ms (well before the 1000 ms idle timer)
  const maxAge = await fx.connect();
  maxAge.write(get('/'));
  expect((await maxAge.response()).header('connection')).to.equal('keep-alive');
  await new Promise((r) => setTimeout(r, 350));
  maxAge.write(get('/'));
  expect((await maxAge.response()).header('connection')).to.equal('close');
  // idleTimeout: connected, then silent
  await fx.connect();
  return { ts, stats: await until(ts, (x) => x.open === 0) };
}
