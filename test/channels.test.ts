import { expect } from 'chai';
import sinon from 'sinon';
import { channel, subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { closeEveryWay } from './helpers/close-reasons.js';
import { get } from './helpers/raw.js';
import { nextRequest } from './helpers/wait.js';
import { routes, useTestServer } from './helpers/servers.js';
import { CLOSE_CHANNEL, DECISION_CHANNEL, type ConnectionInfo } from '../src/index.js';
import { runTs } from './helpers/child.js';

interface DecisionMessage {
  request: IncomingMessage;
  response: ServerResponse;
  info: ConnectionInfo;
  keepAlive: boolean;
  reason: string;
}
interface CloseMessage {
  socket: Socket;
  id: number;
  reason: string;
  requests: number;
  durationMs: number;
}

/** Collects what is published on a channel while a test runs. */
function record<T>(name: string) {
  const messages: T[] = [];
  const onMessage = (message: unknown) => void messages.push(message as T);
  subscribe(name, onMessage);
  return { messages, stop: () => unsubscribe(name, onMessage) };
}

// SPEC §1 "Observability without code": node:diagnostics_channel.
describe('diagnostics channels', () => {
  const fx = useTestServer();
  const stops: Array<() => void> = [];
  afterEach(() => {
    for (const stop of stops.splice(0)) stop();
  });
  function recording<T>(name: string) {
    const r = record<T>(name);
    stops.push(r.stop);
    return r.messages;
  }

  it('exports the channel names', () => {
    expect(DECISION_CHANNEL).to.equal('express-connection-policy:decision');
    expect(CLOSE_CHANNEL).to.equal('express-connection-policy:close');
  });

  for (const flavor of ['express5', 'express4', 'http'] as const) {
    it(`publishes one decision per response with its shape and reason, and one close per connection (${flavor})`, async () => {
      const decisions = recording<DecisionMessage>(DECISION_CHANNEL);
      const closes = recording<CloseMessage>(CLOSE_CHANNEL);
      const ts = await fx.start(flavor, {}, routes, { attach: true });
      // A second connection, open the whole time: counts are per connection, not per server.
      const other = await fx.send(get('/'));
      await other.response();
      const c = await fx.send(get('/'));
      await c.response();
      c.write(get('/stream'));
      await c.response();
      c.write(get('/', 'Connection: close'));
      const last = await c.response();
      expect(last.header('connection')).to.equal('close');
      expect((await c.closed(1000)).kind).to.equal('fin');
      await new Promise((r) => setImmediate(r));
      const [otherDecision, ...ofC] = decisions;
      expect([otherDecision!.info.requests, otherDecision!.keepAlive]).to.deep.equal([1, true]);
      expect(ofC.map((d) => [d.info.requests, d.keepAlive, d.reason])).to.deep.equal([
        [1, true, 'persistent by default (RFC 9112 §9.3)'],
        [2, true, 'persistent by default (RFC 9112 §9.3)'],
        [3, false, 'client sent Connection: close (RFC 9112 §9.6)'],
      ]);
      const first = ofC[0]!;
      expect(first.info.id).to.not.equal(otherDecision!.info.id);
      expect(first.request.url).to.equal('/');
      expect(first.response.req).to.equal(first.request);
      expect(first.info).to.deep.equal({ id: first.info.id, requests: 1, reused: false, openedAt: first.info.openedAt });
      expect(closes).to.have.length(1);
      const closed = closes[0]!;
      expect(closed.id).to.equal(first.info.id);
      expect(closed.reason).to.equal('client');
      expect(closed.requests).to.equal(3);
      expect(closed.socket).to.equal(first.request.socket);
      expect(closed.durationMs).to.be.a('number').and.to.be.at.least(0).and.below(5000);
      expect(ts.policy.stats().closed.client).to.equal(1);
      other.write(get('/', 'Connection: close'));
      await other.response();
      await other.closed(1000);
      await new Promise((r) => setImmediate(r));
      expect(closes.map((m) => [m.id, m.requests])).to.deep.equal([
        [first.info.id, 3],
        [otherDecision!.info.id, 2],
      ]);
    });
  }

  it('reaches every close reason through the close channel, each connection once', async () => {
    const closes = recording<CloseMessage>(CLOSE_CHANNEL);
    const { ts, stats } = await closeEveryWay(fx);
    const idle = await fx.send(get('/'));
    await idle.response();
    await ts.policy.drain();
    const reasons = closes.map((c) => c.reason).sort();
    expect(reasons).to.deep.equal(['client', 'drain', 'error', 'idleTimeout', 'maxAge', 'maxRequests', 'policy']);
    expect(new Set(closes.map((c) => c.id)).size).to.equal(closes.length);
    expect(stats.accepted + 1).to.equal(closes.length);
  });

  it('publishes a response in flight when a drain starts as closing', async () => {
    const decisions = recording<DecisionMessage>(DECISION_CHANNEL);
    const ts = await fx.start('express5', {}, routes, { attach: true });
    const reached = nextRequest(ts.server);
    const c = await fx.send(get('/?ms=150'));
    await reached;
    const drained = ts.policy.drain();
    expect((await c.response()).header('connection')).to.equal('close');
    await drained;
    expect(decisions.map((d) => [d.keepAlive, d.reason])).to.deep.equal([[false, 'draining']]);
  });

  it('publishes nothing, and builds no message, when nobody subscribes', async () => {
    const decision = channel(DECISION_CHANNEL);
    const close = channel(CLOSE_CHANNEL);
    expect(decision.hasSubscribers).to.equal(false);
    expect(close.hasSubscribers).to.equal(false);
    // A publish without a subscriber would reach nobody; what can be checked is that the
    // policy never calls publish: count calls on the channel objects themselves.
    const spies = [sinon.spy(decision, 'publish'), sinon.spy(close, 'publish')];
    try {
      await fx.start('express5', {}, routes, { attach: true });
      const c = await fx.send(get('/'));
      await c.response();
      c.write(get('/', 'Connection: close'));
      await c.response();
      await c.closed(1000);
      await new Promise((r) => setImmediate(r));
    } finally {
      for (const spy of spies) spy.restore();
    }
    expect(spies.map((spy) => spy.callCount)).to.deep.equal([0, 0]);
  });

  it('a subscriber that throws breaks neither the response nor the connection', async function () {
    this.timeout(15_000);
    // Node reports a throwing subscriber as an uncaught exception on the next tick
    // (its documented behaviour); the child process shows the response and the
    // connection went on regardless.
    const child = runTs('test/fixtures/throwing-subscriber.ts', []);
    try {
      expect(await child.exited(10_000)).to.equal(0);
      expect(child.output).to.match(/responses: 200 keep-alive, 200 keep-alive on one connection/);
      expect(child.output).to.match(/uncaught: subscriber boom \(x2\)/);
    } finally {
      child.kill();
    }
  });
});
