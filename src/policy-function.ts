import type { IncomingMessage } from 'node:http';
import { debug } from './debug.js';
import type { ConnectionInfo } from './info.js';
import type { PolicyAnswer, PolicyFunction } from './options.js';

/** The functions already reported: each is reported once, however often it fails. */
const warned = new WeakSet<PolicyFunction>();

/**
 * Asks a policy function for its answer. It runs when a request arrives, from the
 * server's `'request'` listener or the middleware (an HTTP/2 stream's, from its
 * `'stream'` or `'request'` event): an exception there would surface in the
 * server's own event. So it is caught, the connection is closed (always correct
 * under RFC 9112), and the problem is reported as a warning, once for each function.
 */
export function askPolicyFunction(
  fn: PolicyFunction,
  req: IncomingMessage,
  info: ConnectionInfo,
): { answer: PolicyAnswer; source: string } {
  let answer: unknown;
  try {
    answer = fn(req, info);
  } catch (err) {
    warn(fn, `threw ${String(err)}`);
    return { answer: 'close', source: 'policy function (threw)' };
  }
  if (answer === 'keep-alive' || answer === 'close') return { answer, source: 'policy function' };
  warn(fn, `returned ${String(answer)}`);
  return { answer: 'close', source: `policy function (invalid answer ${String(answer)})` };
}

function warn(fn: PolicyFunction, what: string): void {
  if (debug.enabled) debug('policy function %s; closing', what);
  if (warned.has(fn)) return;
  warned.add(fn);
  process.emitWarning(
    `connectionPolicy: the policy function ${what}; it must return 'keep-alive' or 'close'. The connection is closed.`,
    { code: 'CONNECTION_POLICY_FUNCTION' },
  );
}
