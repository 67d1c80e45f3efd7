import { expect } from 'chai';
import fc from 'fast-check';
import {
  admission,
  closesWhatever,
  ASK_POLICY,
  decideAtArrival,
  decideAtHead,
  LEFT_TO_NODE,
  type ArrivalInput,
  type Decision,
  type HeadInput,
} from '../src/decide.js';
import { hasToken } from '../src/headers.js';

// The pure decision, without sockets: every rule of the README's "What it decides,
// per response", and the order between them (the wire tests check the same rules
// through real servers).
const ARRIVAL: ArrivalInput = {
  requestConnection: undefined,
  http10: false,
  draining: false,
  policyAnswer: 'keep-alive',
  policySource: "policy 'keep-alive'",
  requests: 1,
  maxRequests: Infinity,
  age: 0,
  ageLimit: Infinity,
};
const BASE: HeadInput = {
  ...ARRIVAL,
  responseConnection: undefined,
  delimited: true,
  reachedMiddleware: true,
  refusedBehind: false,
  handledBehind: false,
};
const closePolicy = { policyAnswer: 'close', policySource: "policy 'close'" } as const;

/** A head-time verdict that must be a decision (the policy's answer is given). */
function decided(input: HeadInput): Decision {
  const verdict = decideAtHead(input);
  if (!('keepAlive' in verdict)) throw new Error(`expected a decision, got ${JSON.stringify(verdict)}`);
  return verdict;
}

type Row = [label: string, input: Partial<HeadInput>, keepAlive: boolean, closedBy?: string];
const TABLE: Row[] = [
  ['HTTP/1.1, nothing said: persistent', {}, true],
  ['rule 1: client close', { requestConnection: 'close' }, false, 'client'],
  ['rule 1: client close in a list, any case', { requestConnection: 'keep-alive, CLOSE' }, false, 'client'],
  ['rule 1: repeated headers as an array', { requestConnection: ['TE', 'close'] }, false, 'client'],
  [
    'rule 1 before rule 2: client close beats a handler keep-alive',
    { requestConnection: 'close', responseConnection: 'keep-alive' },
    false,
    'client',
  ],
  [
    'rule 1 before rule 4: client close is counted as the client, not the drain',
    { requestConnection: 'close', draining: true },
    false,
    'client',
  ],
  ['rule 2: a handler close stands', { responseConnection: 'close' }, false, 'policy'],
  ['rule 2: a handler keep-alive where persistence is allowed', { responseConnection: 'keep-alive' }, true],
  [
    'rule 2 before rule 3: a handler close on HTTP/1.0 keep-alive',
    { http10: true, requestConnection: 'keep-alive', responseConnection: 'close' },
    false,
    'policy',
  ],
  ['rule 3: HTTP/1.0 without keep-alive closes', { http10: true }, false, 'client'],
  [
    'rule 3: HTTP/1.0 without keep-alive, even with a handler keep-alive',
    { http10: true, responseConnection: 'keep-alive' },
    false,
    'client',
  ],
  ['rule 3: HTTP/1.0 with keep-alive persists', { http10: true, requestConnection: 'Keep-Alive' }, true],
  [
    'rule 3: HTTP/1.0 with keep-alive but an undelimited body closes',
    { http10: true, requestConnection: 'keep-alive', delimited: false },
    false,
    'policy',
  ],
  ['HTTP/1.1 bodies are always delimited', { delimited: false }, true],
  ['rule 4: draining', { draining: true }, false, 'drain'],
  [
    'rule 4 applies to a persistent HTTP/1.0 request too',
    { http10: true, requestConnection: 'keep-alive', draining: true },
    false,
    'drain',
  ],
  ['rule 4: draining before the policy', { draining: true, ...closePolicy }, false, 'drain'],
  ["rule 4: policy 'close'", { ...closePolicy }, false, 'policy'],
  ['rule 4: the policy before maxRequests', { ...closePolicy, requests: 5, maxRequests: 5 }, false, 'policy'],
  ['rule 4: maxRequests reached on the Nth', { requests: 5, maxRequests: 5 }, false, 'maxRequests'],
  ['rule 4: maxRequests not reached before the Nth', { requests: 4, maxRequests: 5 }, true],
  ['rule 4: maxRequests before maxAge', { requests: 5, maxRequests: 5, age: 10, ageLimit: 5 }, false, 'maxRequests'],
  ['rule 4: maxAge reached', { age: 5, ageLimit: 5 }, false, 'maxAge'],
  ['rule 4: maxAge not reached', { age: 4.9, ageLimit: 5 }, true],
  [
    "rule 4: a policy function's close, named in the reason",
    { policyAnswer: 'close', policySource: 'policy function' },
    false,
    'policy',
  ],
  [
    'rule 6 yields to a drain: a response the middleware never saw still closes',
    { reachedMiddleware: false, draining: true },
    false,
    'drain',
  ],
  [
    'rule 6 yields where a request pipelined behind it was refused for a close: that one must not be left unanswered',
    { reachedMiddleware: false, refusedBehind: true, requests: 5, maxRequests: 5 },
    false,
    'maxRequests',
  ],
  ['rule 7: a drain waits for the pipelined request being handled behind', { draining: true, handledBehind: true }, true],
  ["rule 7: so does the policy's close", { ...closePolicy, handledBehind: true }, true],
  ['rule 7: so does maxAge', { age: 5, ageLimit: 5, handledBehind: true }, true],
  ["rule 7: the client's close does not wait", { requestConnection: 'close', handledBehind: true }, false, 'client'],
  ["rule 7: nor the handler's", { responseConnection: 'close', handledBehind: true }, false, 'policy'],
  [
    'rule 7: nor an undelimited HTTP/1.0 body',
    { http10: true, requestConnection: 'keep-alive', delimited: false, handledBehind: true },
    false,
    'policy',
  ],
];

describe('decideAtHead() (pure)', () => {
  for (const [label, input, keepAlive, closedBy] of TABLE) {
    it(label, () => {
      const decision = decided({ ...BASE, ...input });
      expect(decision.keepAlive).to.equal(keepAlive);
      expect(decision.keepAlive ? undefined : decision.closedBy).to.equal(closedBy);
      expect(decision.reason).to.be.a('string').and.not.equal('');
    });
  }

  it("names who answered 'close' in the reason", () => {
    expect(decided({ ...BASE, policyAnswer: 'close', policySource: 'policy function (threw)' }).reason).to.equal(
      "policy function (threw) answered 'close'",
    );
  });

  it('rule 6: a response written before the middleware ran is left to Node, whatever else holds', () => {
    expect(decideAtHead({ ...BASE, reachedMiddleware: false })).to.equal(LEFT_TO_NODE);
    // A close certain at arrival (a limit, the policy's answer) is not the policy's to put on such a head.
    expect(decideAtHead({ ...BASE, reachedMiddleware: false, requests: 5, maxRequests: 5, policyAnswer: 'close' })).to.equal(
      LEFT_TO_NODE,
    );
    expect(decideAtHead({ ...BASE, reachedMiddleware: false, requestConnection: 'close', policyAnswer: 'close' })).to.equal(
      LEFT_TO_NODE,
    );
  });

  it('asks for a policy function only when rules 1–3 and the drain leave the answer open', () => {
    const unasked = { ...BASE, policyAnswer: undefined, policySource: 'policy function' };
    expect(decideAtHead({ ...unasked, requestConnection: 'close' })).to.have.property('closedBy', 'client');
    expect(decideAtHead({ ...unasked, responseConnection: 'close' })).to.have.property('closedBy', 'policy');
    expect(decideAtHead({ ...unasked, http10: true })).to.have.property('closedBy', 'client');
    expect(decideAtHead({ ...unasked, draining: true })).to.have.property('closedBy', 'drain');
    expect(decideAtHead(unasked)).to.equal(ASK_POLICY);
    // Before the limits: a function may still close where maxRequests would have.
    expect(decideAtHead({ ...unasked, requests: 5, maxRequests: 5 })).to.equal(ASK_POLICY);
  });
});

describe('decideAtArrival() (pure)', () => {
  it('is the head-time decision with nothing changed by the handler', () => {
    for (const [, input] of TABLE) {
      const { responseConnection, delimited, reachedMiddleware, refusedBehind, handledBehind, ...arrival } = {
        ...BASE,
        ...input,
      };
      // What only the head knows: the handler's say, the body, who came behind.
      if (responseConnection !== undefined || !delimited || !reachedMiddleware || handledBehind) continue;
      void refusedBehind;
      expect(decideAtArrival(arrival)).to.deep.equal(decideAtHead({ ...BASE, ...input }));
    }
  });

  it('says a policy function is to be asked (at arrival, by the glue)', () => {
    expect(decideAtArrival({ ...ARRIVAL, policyAnswer: undefined })).to.equal(ASK_POLICY);
    expect(decideAtArrival({ ...ARRIVAL, policyAnswer: undefined, requestConnection: 'close' })).to.have.property(
      'closedBy',
      'client',
    );
  });
});

describe('closesWhatever() (pure): rule 7 at arrival', () => {
  it('is a close decided at arrival, or a limit reached while a policy function is still to be asked', () => {
    const unasked = { ...ARRIVAL, policyAnswer: undefined, policySource: 'policy function' };
    expect(closesWhatever(decideAtArrival(ARRIVAL), ARRIVAL)).to.equal(false);
    expect(closesWhatever(decideAtArrival({ ...ARRIVAL, draining: true }), ARRIVAL)).to.equal(true);
    expect(closesWhatever(ASK_POLICY, unasked)).to.equal(false);
    expect(closesWhatever(ASK_POLICY, { ...unasked, requests: 4, maxRequests: 5 })).to.equal(false);
    expect(closesWhatever(ASK_POLICY, { ...unasked, requests: 5, maxRequests: 5 })).to.equal(true);
    expect(closesWhatever(ASK_POLICY, { ...unasked, age: 4.9, ageLimit: 5 })).to.equal(false);
    expect(closesWhatever(ASK_POLICY, { ...unasked, age: 5, ageLimit: 5 })).to.equal(true);
  });
});

describe('the verdicts the glue reads', () => {
  it('are discriminated by a property of their own (head-time.ts tests `in`), with a reason for the log', () => {
    expect(LEFT_TO_NODE).to.deep.equal({ leftToNode: true, reason: 'written before the middleware ran' });
    expect(ASK_POLICY).to.deep.equal({ askPolicy: true });
    expect(Object.isFrozen(LEFT_TO_NODE) && Object.isFrozen(ASK_POLICY)).to.equal(true);
  });
});

describe('admission() (pure)', () => {
  it('handles a request on an open connection with nothing decided', () => {
    expect(admission(false, false)).to.deep.equal({ handle: true });
  });
  it('refuses and resets a request on a connection the server already ended', () => {
    expect(admission(true, false)).to.deep.equal({
      handle: false,
      destroy: true,
      reason: 'request on an ended connection refused before any handler',
    });
    expect(admission(true, true)).to.include({ handle: false, destroy: true });
  });
  it('rule 7: does not handle a pipelined request behind a closing response, and does not reset it', () => {
    expect(admission(false, true)).to.deep.equal({
      handle: false,
      destroy: false,
      reason: 'pipelined request after a closing response: not handled',
    });
  });
});

describe('decision properties', () => {
  // Properties over any input: headers as strings or arrays with any tokens.
  const token = fc.constantFrom(
    'close',
    'CLOSE',
    'Close',
    'keep-alive',
    'Keep-Alive',
    'TE',
    'upgrade',
    'closed',
    'xclose',
    'foo',
  );
  const list = fc.array(token, { maxLength: 4 }).map((ts) => ts.join(', '));
  const header = fc.option(fc.oneof(list, fc.array(list, { minLength: 1, maxLength: 3 })), { nil: undefined });
  const input = fc.record({
    requestConnection: header,
    http10: fc.boolean(),
    responseConnection: header,
    delimited: fc.boolean(),
    draining: fc.boolean(),
    policyCloses: fc.boolean(),
    requests: fc.integer({ min: 1, max: 10 }),
    maxRequests: fc.oneof(fc.integer({ min: 1, max: 10 }), fc.constant(Infinity)),
    age: fc.integer({ min: 0, max: 100 }),
    ageLimit: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constant(Infinity)),
  });
  type Generated = typeof input extends fc.Arbitrary<infer T> ? T : never;
  const toInput = ({ policyCloses, ...rest }: Generated): HeadInput => ({
    ...BASE,
    ...rest,
    ...(policyCloses ? closePolicy : {}),
  });

  it('property: a request whose Connection carries the close token always closes, counted as the client', () => {
    fc.assert(
      fc.property(input, (i) => {
        const d = decided(toInput(i));
        if (hasToken(i.requestConnection, 'close')) return !d.keepAlive && d.closedBy === 'client';
        return true;
      }),
    );
  });

  it('property: an HTTP/1.0 request without the keep-alive token is never kept alive', () => {
    fc.assert(
      fc.property(input, (i) =>
        i.http10 && !hasToken(i.requestConnection, 'keep-alive') ? !decided(toInput(i)).keepAlive : true,
      ),
    );
  });

  it('property: draining, a handler close, or the limits each close; otherwise persistent', () => {
    fc.assert(
      fc.property(input, (i) => {
        const d = decided(toInput(i));
        const mustClose =
          hasToken(i.requestConnection, 'close') ||
          hasToken(i.responseConnection, 'close') ||
          (i.http10 && (!hasToken(i.requestConnection, 'keep-alive') || !i.delimited)) ||
          i.draining ||
          i.policyCloses ||
          i.requests >= i.maxRequests ||
          i.age >= i.ageLimit;
        return d.keepAlive === !mustClose && (d.keepAlive ? !('closedBy' in d) : d.closedBy !== undefined);
      }),
      // The input space is small and decide() pure: enough runs to reach its corners.
      { numRuns: 5000 },
    );
  });

  it('property: hasToken matches a comma list member, trimmed and case-insensitive, and nothing else', () => {
    const member = fc.stringMatching(/^[A-Za-z-]{1,8}$/);
    fc.assert(
      fc.property(
        fc.array(member, { maxLength: 5 }),
        fc.array(fc.constantFrom('', ' ', '  '), { minLength: 10, maxLength: 10 }),
        member,
        (members, pads, wanted) => {
          const value = members.map((m, k) => `${pads[k]}${m}${pads[k + 5]}`).join(',');
          const expected = members.some((m) => m.toLowerCase() === wanted.toLowerCase());
          return hasToken(value, wanted.toLowerCase()) === expected;
        },
      ),
    );
  });
});
