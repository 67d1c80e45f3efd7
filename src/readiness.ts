import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A readiness / health-check handler (docs/shutdown.md, "Rolling deploys and Kubernetes"):
 * `200 ready` while the policy is not draining, `503 draining` with
 * `Connection: close` from the first `drain()` call on. Express and `node:http` alike.
 */
export function readinessHandler(isDraining: () => boolean): (req: IncomingMessage, res: ServerResponse) => void {
  return function readiness(req, res) {
    const draining = isDraining();
    const body = draining ? 'draining' : 'ready';
    res.statusCode = draining ? 503 : 200;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Content-Length', body.length);
    // A cached "ready" would hide the drain from whoever asks through a cache.
    res.setHeader('Cache-Control', 'no-store');
    // The checker's connection must not outlive the instance.
    if (draining) res.setHeader('Connection', 'close');
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
