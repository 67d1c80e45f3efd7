import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

/**
 * A readiness / health-check handler (docs/shutdown.md, "Rolling deploys and Kubernetes"):
 * `200 ready` while the policy is not draining, `503 draining` with
 * `Connection: close` from the first `drain()` call on. Express, `node:http` and
 * `node:http2`'s compatibility API alike.
 */
export function readinessHandler(isDraining: () => boolean): (req: Request, res: Response) => void {
  return function readiness(req: Request, res: Response) {
    const draining = isDraining();
    const body = draining ? 'draining' : 'ready';
    res.statusCode = draining ? 503 : 200;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Content-Length', body.length);
    // A cached "ready" would hide the drain from whoever asks through a cache.
    res.setHeader('Cache-Control', 'no-store');
    // The checker's connection must not outlive the instance. (HTTP/2 has no
    // Connection header, RFC 9113 §8.2.2: its session gets the drain's GOAWAY.)
    if (draining && req.httpVersionMajor === 1) res.setHeader('Connection', 'close');
    if (req.method === 'HEAD') res.end();
    else res.end(body);
  };
}
