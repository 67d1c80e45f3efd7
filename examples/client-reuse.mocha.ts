// Copy this into your project's tests: it proves that *your client* reuses its
// connection against a local endpoint — the question of the LocalStack report.
//
//   npx mocha --node-option import=tsx examples/client-reuse.mocha.ts
import { expect } from 'chai';
import { expectReusedConnection, recordConnections, type ConnectionRecorder } from 'express-connection-policy/testing';
import { createEchoApp } from './echo-app.js';
import { QueueClient } from './queue-client.js';

describe('QueueClient against a local endpoint', () => {
  let endpoint: ConnectionRecorder;
  beforeEach(async () => {
    // Your server (or app): recordConnections starts it on 127.0.0.1 if needed.
    endpoint = await recordConnections(createEchoApp().app);
  });
  afterEach(() => endpoint.close());

  it('sends every call over one reused connection', async () => {
    const client = new QueueClient(endpoint.url);
    try {
      for (let i = 0; i < 5; i++) expect(await client.listQueues()).to.include('<ListQueuesResponse');
    } finally {
      client.close();
    }
    // Fails with a request-by-request table if a call opened a connection of its own.
    await expectReusedConnection(endpoint, { connections: 1, requests: 5 });
  });
});
