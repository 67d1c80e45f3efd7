// Waiting for what a test means, not for a guessed number of milliseconds.
import { once } from 'node:events';
import type http from 'node:http';

/**
 * Resolves once `condition()` holds (checked every 5 ms); fails after `timeoutMs`,
 * naming `what` (a function is called at the failure, to show the state then).
 */
export async function eventually(condition: () => boolean, what: string | (() => string), timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`never happened within ${timeoutMs} ms: ${typeof what === 'function' ? what() : what}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Resolves when `server` emits its next 'request', i.e. the request reached the
 * handlers. Call it before writing the request.
 */
export async function nextRequest(server: http.Server): Promise<http.IncomingMessage> {
  const [req] = (await once(server, 'request')) as [http.IncomingMessage];
  return req;
}
