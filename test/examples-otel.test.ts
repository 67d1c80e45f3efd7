import { expect } from 'chai';
import { runTs } from './helpers/child.js';

// examples/otel-metrics.ts: the diagnostics channels and stats() feeding the
// OpenTelemetry SDK, as docs/observability.md shows.
describe('examples/otel-metrics.ts', () => {
  it('records decisions, closes by reason, requests per connection, lifetimes and the gauges', async function () {
    this.timeout(30_000);
    const child = runTs('examples/otel-metrics.ts');
    try {
      expect(await child.exited(25_000)).to.equal(0);
    } finally {
      child.kill();
    }
    const out = child.output;
    // Seven requests on one connection with maxRequests 3: 3 + 3 closed by the limit, 1 left for the drain.
    expect(out).to.match(
      /while serving:\n {2}http\.server\.connections\.open\{\} 1\n {2}http\.server\.connections\.idle\{\} 1\n/,
    );
    expect(out).to.include('http.server.connections.closed{connection.close_reason=maxRequests} 2');
    expect(out).to.include('http.server.connections.closed{connection.close_reason=client} 2');
    expect(out).to.include('http.server.connections.closed{connection.close_reason=drain} 1');
    expect(out).to.include('http.server.connection.requests{connection.close_reason=maxRequests} count=2 sum=6.000');
    expect(out).to.match(/http\.server\.connection\.duration\{connection\.close_reason=drain\} count=1 sum=\d+\.\d{3}/);
    expect(out).to.include('http.server.connection_policy.decisions{connection.keep_alive=false,connection.reused=true} 2');
    expect(out).to.match(/after the drain:[\s\S]*http\.server\.connections\.open\{\} 0/);
  });
});
