// The Express equivalent of the Quart echo app from the LocalStack report
// (localstack/localstack#6557): GET and POST / read the request body, wait 5 ms
// (the "handler chain"), and answer a fixed ListQueuesResponse.
//
//   node --import tsx examples/echo-server.ts --policy keep-alive|close [--port 4566]
//        [--drain-delay MS] [--drain-idle-grace MS] [--drain-timeout MS]
//
// Env: POLICY, PORT. Listens on 127.0.0.1. SIGINT/SIGTERM drain (with the given
// delay, idle grace and timeout: 0, 0 and 2000 ms by default) and exit; /ready
// answers 503 from then on.
// Type `stats` (or write it to stdin) for the policy's counters as one JSON line.
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createEchoApp } from './echo-app.js';

const { values } = parseArgs({
  options: {
    policy: { type: 'string', default: process.env.POLICY ?? 'keep-alive' },
    port: { type: 'string', default: process.env.PORT ?? '4566' },
    // Not in the Quart app: the benchmarks measure without the handler wait too.
    'wait-ms': { type: 'string', default: '5' },
    'drain-delay': { type: 'string', default: '0' },
    'drain-idle-grace': { type: 'string', default: '0' },
    'drain-timeout': { type: 'string', default: '2000' },
  },
});
const policyName = values.policy;
if (policyName !== 'keep-alive' && policyName !== 'close') {
  console.error(`echo-server: --policy must be keep-alive or close; got ${policyName}`);
  process.exit(2);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`echo-server: --port must be a port number; got ${values.port}`);
  process.exit(2);
}
const waitMs = Number(values['wait-ms']);
if (!Number.isInteger(waitMs) || waitMs < 0) {
  console.error(`echo-server: --wait-ms must be a whole number ≥ 0; got ${values['wait-ms']}`);
  process.exit(2);
}
const { app, policy } = createEchoApp(policyName, waitMs);
const server = policy.attach(app.listen(port, '127.0.0.1'));
server.on('listening', () => {
  const { port: actual } = server.address() as AddressInfo;
  console.log(`echo-server (${policyName}) listening on http://127.0.0.1:${actual}/`);
});
server.on('error', (err) => {
  console.error(`echo-server: ${err.message}`);
  process.exit(1);
});
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'stats') console.log(JSON.stringify({ stats: policy.stats() }));
});
const stop = async () => {
  try {
    const result = await policy.drain({
      delay: Number(values['drain-delay']),
      idleGrace: Number(values['drain-idle-grace']),
      timeout: Number(values['drain-timeout']),
    });
    console.log(`drained: ${JSON.stringify(result)}`);
    process.exit(0);
  } catch (err) {
    // A bad --drain-* value: drain() names it.
    console.error(`echo-server: ${(err as Error).message}`);
    process.exit(2);
  }
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
