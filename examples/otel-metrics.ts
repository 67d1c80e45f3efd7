// Connection metrics in OpenTelemetry, without wrapping anything: subscribe to the
// policy's diagnostics channels, and read stats() for the gauges.
//
//   node --import tsx examples/otel-metrics.ts
//
// It starts an Express app with the policy, sends a few requests over keep-alive and
// closing connections, drains, and prints what the OpenTelemetry SDK collected.
// In an application, give the MeterProvider your exporter (OTLP, Prometheus…)
// instead of the in-memory one used here; @opentelemetry/* are dev dependencies of
// this repository only — the package itself depends on neither.
import { subscribe } from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import express from 'express';
import { CLOSE_CHANNEL, DECISION_CHANNEL, connectionPolicy, type CloseReason, type ConnectionInfo } from '../src/index.js';

// --- the OpenTelemetry side -------------------------------------------------------
const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
const meter = metrics.getMeter('express-connection-policy-example');

const decisions = meter.createCounter('http.server.connection_policy.decisions', {
  description: 'Keep/close decisions, one per response.',
});
const closed = meter.createCounter('http.server.connections.closed', {
  description: 'Connections closed, by the reason that closed them.',
});
const requestsPerConnection = meter.createHistogram('http.server.connection.requests', {
  description: 'Requests served on a connection over its lifetime.',
  advice: { explicitBucketBoundaries: [1, 2, 5, 10, 100, 1000] },
});
const lifetime = meter.createHistogram('http.server.connection.duration', {
  description: 'How long a connection was open.',
  unit: 's',
});

// The channels carry everything; a subscriber is all an instrumentation needs.
subscribe(DECISION_CHANNEL, (message) => {
  const { keepAlive, info } = message as { keepAlive: boolean; info: ConnectionInfo };
  decisions.add(1, { 'connection.keep_alive': keepAlive, 'connection.reused': info.reused });
});
subscribe(CLOSE_CHANNEL, (message) => {
  const { reason, requests, durationMs } = message as { reason: CloseReason; requests: number; durationMs: number };
  closed.add(1, { 'connection.close_reason': reason });
  requestsPerConnection.record(requests, { 'connection.close_reason': reason });
  lifetime.record(durationMs / 1000, { 'connection.close_reason': reason });
});

// --- the application --------------------------------------------------------------
const policy = connectionPolicy({ maxRequests: 3 });
// Gauges are read when the SDK collects: stats() is a fresh snapshot each time.
meter
  .createObservableGauge('http.server.connections.open', { description: 'Connections open now.' })
  .addCallback((result) => result.observe(policy.stats().open));
meter
  .createObservableGauge('http.server.connections.idle', { description: 'Open connections idle between requests.' })
  .addCallback((result) => result.observe(policy.stats().idle));

const app = express();
app.use(policy);
app.get('/', (req, res) => void res.send('hello\n'));
const server = policy.attach(http.createServer(app));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;

function get(agent: http.Agent | false, headers: http.OutgoingHttpHeaders = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent, headers }, (res) => res.resume().once('end', resolve))
      .once('error', reject);
  });
}

// Seven requests on one keep-alive connection: maxRequests 3 closes it twice.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
for (let i = 0; i < 7; i++) await get(agent);
// Two clients that ask to close.
await get(false);
await get(false);
// Read the gauges while the last keep-alive connection is still open.
await reader.forceFlush();
const live = exporter.getMetrics();
exporter.reset();
agent.destroy();
await policy.drain({ timeout: 1000 });
await reader.forceFlush();

// --- print what was collected ------------------------------------------------------
function show(title: string, resourceMetrics: ReturnType<typeof exporter.getMetrics>, only?: RegExp): void {
  console.log(title);
  for (const rm of resourceMetrics) {
    for (const scope of rm.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (only && !only.test(metric.descriptor.name)) continue;
        for (const point of metric.dataPoints) {
          const attributes = Object.entries(point.attributes)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(',');
          const value =
            metric.dataPointType === DataPointType.HISTOGRAM
              ? (() => {
                  const h = point.value as { count: number; sum?: number };
                  return `count=${h.count} sum=${Number(h.sum ?? 0).toFixed(3)}`;
                })()
              : typeof point.value === 'number'
                ? String(point.value)
                : JSON.stringify(point.value);
          console.log(`  ${metric.descriptor.name}{${attributes}} ${value}`);
        }
      }
    }
  }
}
show('while serving:', live, /connections\.(open|idle)/);
show('after the drain:', exporter.getMetrics());
process.exit(0);
