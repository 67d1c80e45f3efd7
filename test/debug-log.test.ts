import { expect } from 'chai';
import { execFile } from 'node:child_process';
import sinon from 'sinon';
import { fileURLToPath } from 'node:url';
import { debug } from '../src/debug.js';
import { debugScenario } from './fixtures/debug-scenario.js';

/** The log of debug-scenario.ts: in this process if NODE_DEBUG is on here, else from a child with it on. */
async function logOfScenario(): Promise<string> {
  if (debug.enabled) {
    let log = '';
    // util.debuglog writes with process.stderr.write: record what it writes meanwhile.
    const stub = sinon.stub(process.stderr, 'write').callsFake((chunk: string | Uint8Array) => ((log += String(chunk)), true));
    try {
      await debugScenario();
    } finally {
      stub.restore();
    }
    return log;
  }
  const script = fileURLToPath(new URL('./fixtures/debug-app.ts', import.meta.url));
  return new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', script],
      { env: { ...process.env, NODE_DEBUG: 'connection-policy' }, timeout: 15_000 },
      (err, _stdout, stderr) => (err ? reject(new Error(`debug-app failed: ${err.message}`, { cause: err })) : resolve(stderr)),
    );
  });
}

// Every keep/close decision is logged with its reason (NODE_DEBUG=connection-policy),
// and so is each step of a connection's life and of a drain.
describe("debug log (util.debuglog('connection-policy'))", () => {
  const EXPECTED: Array<[string, RegExp]> = [
    ['attach', /attach: idleTimeout 150 ms, keepAliveTimeout \d+ ms/],
    ['attach lowering headersTimeout', /attach: headersTimeout 2000 > requestTimeout 1000; lowered to match/],
    ['a connection accepted', /sock#[1-9]\d* opened by 127\.0\.0\.1:\d+/],
    ['keep-alive', /sock#[1-9]\d* req#1 keep-alive: persistent by default \(RFC 9112 §9\.3\)/],
    ['maxRequests', /sock#[1-9]\d* req#2 close: maxRequests reached \(2\/2\)/],
    ["the client's close", /sock#[1-9]\d* req#1 close: client sent Connection: close \(RFC 9112 §9\.6\)/],
    ['rule 6', /sock#[1-9]\d* req#1 left to Node: written before the middleware ran/],
    ['a policy function that threw', /policy function threw Error: boom; closing/],
    ['its close', /sock#[1-9]\d* req#1 close: policy function \(threw\) answered 'close'/],
    ['a head written before the middleware', /left alone: head already written/],
    ['rule 7', /sock#[1-9]\d* pipelined request after a closing response: not handled/],
    ['closed, with its reason', /sock#[1-9]\d* closed \(maxRequests\) after 2 request\(s\)/],
    ['the idle timeout', /sock#[1-9]\d* close: idle for 150 ms \(idleTimeout\)/],
    ['an upgrade', /sock#[1-9]\d* left HTTP \(upgraded\): idle timer off/],
    ['an HTTP/2 session', /sock#[1-9]\d* HTTP\/2 session opened by 127\.0\.0\.1:\d+/],
    ['a drain called', /drain: called, delay 0 ms/],
    ['a drain running', /drain: 1 connection\(s\) open, timeout 2000 ms/],
    ['a drain signal', /sock#[1-9]\d* drain signal aborted \(GET \/stream\)/],
    ['a drain done', /drain: done, 1 graceful, 0 destroyed/],
  ];

  // One test: the scenario runs inside it, so that StrykerJS's per-test coverage
  // runs it against every log line's mutants (a before() hook's coverage counts for no test).
  it(`logs each kind of line: ${EXPECTED.map(([what]) => what).join('; ')}`, async function () {
    this.timeout(20_000);
    const log = (await logOfScenario()).split('\n').filter((l) => l.startsWith('CONNECTION-POLICY'));
    const missing = EXPECTED.filter(([, line]) => !log.some((l) => line.test(l))).map(([what, line]) => `${what} (${line})`);
    expect(missing, `no line for:\n  ${missing.join('\n  ')}\nin:\n${log.join('\n')}`).to.deep.equal([]);
  });
});
