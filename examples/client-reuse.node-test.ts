// The same test for node:test: copy it into your project's tests.
//
//   node --import tsx --test examples/client-reuse.node-test.ts
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { expectReusedConnection, recordConnections, type ConnectionRecorder } from 'express-connection-policy/testing';
import { createEchoApp } from './echo-app.js';
import { QueueClient } from './queue-client.js';

describe('QueueClient against a local endpoint', () => {
  let endpoint: ConnectionRecorder;
  beforeEach(async () => {
    endpoint = await recordConnections(createEchoApp().app);
  });
  afterEach(() => endpoint.close());

  it('sends every call over one reused connection', async () => {
    const client = new QueueClient(endpoint.url);
    try {
      for (let i = 0; i < 5; i++) assert.match(await client.listQueues(), /<ListQueuesResponse/);
    } finally {
      client.close();
    }
    await expectReusedConnection(endpoint, { connections: 1, requests: 5 });
  });
});
