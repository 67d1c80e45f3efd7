// Graceful shutdown the way Kubernetes stops a pod: SIGTERM → announce → drain() → exit.
//
//   node --import tsx examples/graceful-shutdown.ts [--port 3000] [--drain-delay 5000] [--drain-timeout 10000]
//   kill -TERM <pid>
//
// From SIGTERM, /ready answers 503 so the readiness probe (or a load balancer's
// health check) takes the instance out of rotation, and every response says
// `Connection: close`; for --drain-delay ms the server still accepts and serves
// what keeps arriving meanwhile. Then it stops accepting, idle keep-alive
// connections are ended with a FIN, in-flight requests finish, and the process
// exits once the last connection is gone (or at the deadline).
import express from 'express';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { connectionPolicy, type ConnectionStats } from '../src/index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '3000' },
    'drain-delay': { type: 'string', default: process.env.DRAIN_DELAY ?? '5000' },
    'drain-timeout': { type: 'string', default: '10000' },
  },
});

const policy = connectionPolicy({ idleTimeout: 65_000 });
const app = express();
app.use(policy);
// The readiness probe: 200 ready, 503 draining from SIGTERM on.
app.get('/ready', policy.readiness());
app.get('/', (req, res) => void res.send('hello\n'));
app.get('/slow', (req, res) => {
  setTimeout(() => res.send('slow hello\n'), Number(req.query.ms ?? 500));
});
// Observability: the policy's counters in the Prometheus text format.
app.get('/metrics', (req, res) => void res.type('text/plain; version=0.0.4').send(prometheusText(policy.stats())));

const server = policy.attach(app.listen(Number(values.port), '127.0.0.1'));
server.on('listening', () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port} (pid ${process.pid})`);
});

async function shutdown(signal: string): Promise<void> {
  console.log(`${signal}: draining (${policy.stats().open} connection(s) open)`);
  const { graceful, destroyed } = await policy.drain({
    delay: Number(values['drain-delay']),
    timeout: Number(values['drain-timeout']),
  });
  console.log(`drained: ${graceful} graceful, ${destroyed} destroyed`);
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

/** A few lines turn `stats()` into Prometheus metrics. */
export function prometheusText(s: ConnectionStats): string {
  const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: string[]) => [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} ${type}`,
    ...samples.map((v) => `${name}${v}`),
  ];
  return (
    [
      ...metric('http_connections_open', 'gauge', 'HTTP connections open now.', [` ${s.open}`]),
      ...metric('http_connections_idle', 'gauge', 'Open HTTP connections idle between requests.', [` ${s.idle}`]),
      ...metric('http_connections_accepted_total', 'counter', 'HTTP connections accepted.', [` ${s.accepted}`]),
      ...metric('http_requests_total', 'counter', 'HTTP requests received.', [` ${s.requests}`]),
      ...metric('http_requests_reused_total', 'counter', 'HTTP requests served on a reused connection.', [
        ` ${s.reusedRequests}`,
      ]),
      ...metric(
        'http_connections_closed_total',
        'counter',
        'HTTP connections closed, by reason.',
        Object.entries(s.closed).map(([reason, n]) => `{reason="${reason}"} ${n}`),
      ),
    ].join('\n') + '\n'
  );
}
