// The app of examples/echo-server.ts, importable (the demo and benchmarks use it).
import express from 'express';
import { connectionPolicy, type PolicyAnswer } from '../src/index.js';

/** The Quart app's body, byte for byte: one line after the XML declaration, no trailing newline. */
export const LIST_QUEUES_RESPONSE =
  "<?xml version='1.0' encoding='utf-8'?>\n" +
  '<ListQueuesResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><ListQueuesResult /><ResponseMetadata><RequestId>Y05BFPBE0ZMIURXXPY35R57NELYBSPCNY6XBU0FR0A6ITR27LZUJ</RequestId></ResponseMetadata></ListQueuesResponse>';

/** The handler chain's simulated work, as `asyncio.sleep(0.005)` in the report. */
export const HANDLER_WAIT_MS = 5;

export function createEchoApp(policy: PolicyAnswer = 'keep-alive', waitMs = HANDLER_WAIT_MS) {
  const connection = connectionPolicy({ policy });
  const app = express();
  // The Quart app sends neither; keep the response as close to it as Express allows.
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(connection);
  // For load balancers and Kubernetes: 503 from the moment a drain starts.
  app.get('/ready', connection.readiness());
  app.all('/', (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'POST') return next();
    // `data = await request.data`: read the whole body, whatever its type.
    req.on('data', () => {});
    // Quart's default for a str response.
    const reply = () => void res.type('text/html; charset=utf-8').send(LIST_QUEUES_RESPONSE);
    // The benchmarks also run it without the wait: then it answers at once.
    req.on('end', () => (waitMs > 0 ? setTimeout(reply, waitMs) : reply()));
  });
  return { app, policy: connection };
}
