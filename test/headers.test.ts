import { expect } from 'chai';
import fc from 'fast-check';
import { hasToken, keepAliveValue, TOKEN } from '../src/headers.js';

// The header field helpers, without sockets: the Connection token list and the
// Keep-Alive value the policy writes.
describe('headers (pure)', () => {
  describe('hasToken', () => {
    const rows: Array<[value: Parameters<typeof hasToken>[0], token: string, expected: boolean]> = [
      ['close', 'close', true],
      ['Close', 'close', true],
      ['CLOSE', 'close', true],
      ['keep-alive, close', 'close', true],
      ['close ,keep-alive', 'close', true],
      ['  close  ', 'close', true],
      ['closed', 'close', false],
      ['clos', 'close', false],
      ['xlose', 'close', false], // same length as the token: the fast path compares, not matches
      ['close-ish, keep-alive', 'close', false],
      [['keep-alive', 'Close'], 'close', true],
      [['keep-alive'], 'close', false],
      [[], 'close', false],
      [undefined, 'close', false],
      [5, 'close', false],
      ['', 'close', false],
    ];
    for (const [value, token, expected] of rows) {
      it(`${JSON.stringify(value) ?? 'undefined'} has ${token}: ${expected}`, () =>
        expect(hasToken(value, token)).to.equal(expected));
    }
    it('property: a list has the token exactly when one of its trimmed, lower-cased members is it', () => {
      const member = fc.oneof(fc.constantFrom('close', 'Close', 'keep-alive', 'upgrade', 'te', ''), fc.string({ maxLength: 8 }));
      fc.assert(
        fc.property(fc.array(member, { maxLength: 5 }), fc.constantFrom(' ', '', '  '), (members, pad) => {
          const value = members.map((m) => pad + m + pad).join(',');
          expect(hasToken(value, 'close')).to.equal(value.split(',').some((m) => m.trim().toLowerCase() === 'close'));
        }),
        { numRuns: 2000 },
      );
    });
  });

  describe('keepAliveValue', () => {
    it('timeout alone without a request limit', () => expect(keepAliveValue(64, Infinity)).to.equal('timeout=64'));
    it('timeout and max with one', () => expect(keepAliveValue(5, 3)).to.equal('timeout=5, max=3'));
    it('max=0 on the last response a limit allows', () => expect(keepAliveValue(1, 0)).to.equal('timeout=1, max=0'));
  });

  describe('TOKEN', () => {
    it('accepts RFC 9110 tokens and nothing else', () => {
      for (const ok of ['GET', 'X-Connection-Id', "!#$%&'*+-.^_`|~09az"]) expect(TOKEN.test(ok), ok).to.equal(true);
      for (const bad of ['', 'a b', 'a:b', 'a\r\nb', 'é', '(x)', 'a,b']) expect(TOKEN.test(bad), bad).to.equal(false);
    });
  });
});
