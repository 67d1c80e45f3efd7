// An example server started as one instance of a rolling restart: on a given port,
// retried while the previous instance's port is still being given up.
import { runTs, type Child } from '../../test/helpers/child.js';

/** Runs `script --port <port> …args` until it prints `listening on`; `started` collects every child, to kill after the test. */
export async function startInstance(script: string, port: number, args: string[], started: Child[]): Promise<Child> {
  for (let attempt = 0; ; attempt++) {
    const child = runTs(script, ['--port', String(port), ...args]);
    started.push(child);
    try {
      await child.waitFor(/listening on/, 15_000);
      return child;
    } catch (err) {
      child.kill();
      if (attempt > 20) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
