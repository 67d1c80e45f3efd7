// A stand-in for an SDK's HTTP layer (what boto3 or the AWS SDK does against a local
// endpoint such as LocalStack): one keep-alive agent shared by every call.
import http from 'node:http';

export class QueueClient {
  readonly #agent = new http.Agent({ keepAlive: true });
  constructor(readonly endpoint: string) {}

  /** `ListQueues`, as the SDK sends it: a form-encoded POST to the endpoint's root. */
  listQueues(): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        this.endpoint,
        { method: 'POST', agent: this.#agent, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve(body));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end('Action=ListQueues&Version=2012-11-05');
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
