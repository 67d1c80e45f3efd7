// Shared by examples/sse.ts and examples/websocket.ts: the drain's command-line
// options, and SIGTERM → drain() → exit.
import type { ConnectionPolicy } from '../src/index.js';

/** `parseArgs` options for the drain: --drain-delay, --drain-spread, --drain-timeout. */
export const drainArgs = {
  'drain-delay': { type: 'string', default: '0' },
  'drain-spread': { type: 'string', default: '2000' },
  'drain-timeout': { type: 'string', default: '10000' },
} as const;

type DrainArgValues = { [K in keyof typeof drainArgs]?: string | undefined };

/** On SIGTERM: drain with the given options, print the result, exit. */
export function drainOnSigterm(policy: ConnectionPolicy, values: DrainArgValues): void {
  process.once('SIGTERM', () => {
    console.log(`SIGTERM: draining ${policy.stats().open} connection(s)`);
    void policy
      .drain({
        delay: Number(values['drain-delay']),
        spread: Number(values['drain-spread']),
        timeout: Number(values['drain-timeout']),
      })
      .then((result) => {
        console.log(`drained: ${JSON.stringify(result)}`);
        process.exit(0);
      });
  });
}
