import { expect } from 'chai';
import { rejection } from './helpers/rejection.js';
import { connectionPolicy } from '../src/index.js';
import { probeConnections } from '../src/testing/index.js';
import { MAX_TIMER_MS } from '../src/validate.js';

// One validation kit for connectionPolicy(), drain() and the testing helpers: the
// same rules (integer milliseconds up to 2^31 − 1, Infinity only where allowed;
// arrays, objects, NaN rejected) and the same error shape everywhere.
// (connectionPolicy()'s own table is in options.test.ts.)

type Case = [value: unknown, error: typeof TypeError | typeof RangeError];

/** Every way to get a timer duration wrong; `Infinity` is added where it is wrong. */
function badMilliseconds(min: number, infinityAllowed: boolean): Case[] {
  const cases: Case[] = [
    [min - 1, RangeError],
    [1.5, RangeError],
    [NaN, RangeError],
    [-Infinity, RangeError],
    // Node would turn these into a 1 ms timer (TimeoutOverflowWarning).
    [MAX_TIMER_MS + 1, RangeError],
    [3e9, RangeError],
    ['5', TypeError],
    [null, TypeError],
    [[5], TypeError],
    [{ ms: 5 }, TypeError],
    [true, TypeError],
  ];
  if (!infinityAllowed) cases.push([Infinity, RangeError]);
  return cases;
}

function thrownBy(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

function expectOptionError(err: Error & { code?: string }, where: string, option: string, ErrorClass: Case[1]): void {
  expect(err.constructor, err.message).to.equal(ErrorClass);
  expect(err.code).to.equal(ErrorClass === RangeError ? 'ERR_OUT_OF_RANGE' : 'ERR_INVALID_ARG_TYPE');
  expect(err.message).to.match(new RegExp(`^${where.replace(/[()]/g, '\\$&')}: option "${option}" must be `));
  expect(err.message).to.include(`to ${MAX_TIMER_MS}`);
  expect(err.message).to.include('got ');
}

describe('option validation kit', () => {
  describe('drain(options)', () => {
    const options: Array<[name: 'timeout' | 'delay' | 'idleGrace' | 'spread', infinity: boolean]> = [
      ['timeout', true],
      ['delay', false],
      ['idleGrace', false],
      ['spread', false],
    ];
    for (const [name, infinity] of options) {
      for (const [value, ErrorClass] of badMilliseconds(0, infinity)) {
        it(`${name}: ${JSON.stringify(value) ?? String(value)} → ${ErrorClass.name}, and the policy is not draining`, () => {
          const policy = connectionPolicy();
          const err = thrownBy(() => policy.drain({ [name]: value }));
          expectOptionError(err, 'drain()', name, ErrorClass);
          // What is allowed, exactly: Infinity is named only where it is allowed.
          expect(err.message).to.include(
            `an integer number of milliseconds from 0 to ${MAX_TIMER_MS}${infinity ? ', or Infinity' : ';'}`,
          );
          expect(policy.draining).to.equal(false);
        });
      }
    }

    it('spread: at most a finite timeout (a RangeError naming both), any value under timeout: Infinity', async () => {
      const policy = connectionPolicy();
      const err = thrownBy(() => policy.drain({ spread: 2001, timeout: 2000 }));
      expect(err.constructor).to.equal(RangeError);
      expect(err.code).to.equal('ERR_OUT_OF_RANGE');
      expect(err.message).to.equal('drain(): option "spread" must be at most timeout (2000 ms); got 2001');
      expect(policy.draining).to.equal(false);
      // The default timeout (10000) bounds it too.
      expect(() => policy.drain({ spread: 10_001 })).to.throw(RangeError, /"spread" must be at most timeout \(10000 ms\)/);
      await connectionPolicy().drain({ spread: 2000, timeout: 2000 });
      await connectionPolicy().drain({ spread: MAX_TIMER_MS, timeout: Infinity });
    });

    it('accepts 0, 2^31 − 1, and Infinity for timeout', async () => {
      await connectionPolicy().drain({ timeout: 0, delay: 0, idleGrace: 0 });
      await connectionPolicy().drain({ timeout: MAX_TIMER_MS, idleGrace: 0 });
      await connectionPolicy().drain({ timeout: Infinity });
    });

    it('rejects a non-object and unknown names, suggesting the closest', () => {
      expectTypeError(() => connectionPolicy().drain(5 as never), /drain\(\): option "options" must be an object/);
      expectTypeError(() => connectionPolicy().drain([] as never), /drain\(\): option "options" must be an object/);
      expectTypeError(() => connectionPolicy().drain({ dealy: 5 } as never), /unknown option "dealy" \(did you mean "delay"\?\)/);
    });
  });

  describe('probeConnections(target, options)', () => {
    for (const [value, ErrorClass] of badMilliseconds(1, false)) {
      it(`timeout: ${JSON.stringify(value) ?? String(value)} → ${ErrorClass.name}`, async () => {
        const err = await rejection(probeConnections('http://127.0.0.1:9/', { timeout: value as number }));
        expectOptionError(err, 'probeConnections()', 'timeout', ErrorClass);
      });
    }

    it('requests: an integer ≥ 2, with the same error shape', async () => {
      for (const [value, ErrorClass] of [
        [1, RangeError],
        [2.5, RangeError],
        [NaN, RangeError],
        ['3', TypeError],
        [[3], TypeError],
      ] as Case[]) {
        const err = await rejection(probeConnections('http://127.0.0.1:9/', { requests: value as number }));
        expect(err.constructor).to.equal(ErrorClass);
        expect(err.message).to.match(/^probeConnections\(\): option "requests" must be an integer ≥ 2; got /);
      }
    });

    const shapes: Array<[option: string, value: unknown, code: string, allowed: RegExp]> = [
      ['method', 'GE T', 'ERR_INVALID_ARG_VALUE', /an HTTP method such as GET or POST/],
      ['method', 5, 'ERR_INVALID_ARG_TYPE', /an HTTP method such as GET or POST/],
      ['path', 'no-slash', 'ERR_INVALID_ARG_VALUE', /a path starting with '\/'/],
      ['path', 5, 'ERR_INVALID_ARG_TYPE', /a path starting with '\/'/],
      ['headers', { 'x-n': 1 }, 'ERR_INVALID_ARG_TYPE', /an object of string header values/],
      ['headers', null, 'ERR_INVALID_ARG_TYPE', /an object of string header values/],
      ['headers', 'x-n: 1', 'ERR_INVALID_ARG_TYPE', /an object of string header values/],
      ['body', 5, 'ERR_INVALID_ARG_TYPE', /a string or a Buffer/],
      ['body', { text: 'x' }, 'ERR_INVALID_ARG_TYPE', /a string or a Buffer/],
    ];
    for (const [option, value, code, allowed] of shapes) {
      it(`${option}: ${JSON.stringify(value)} → TypeError ${code}, before any connection`, async () => {
        const err = await rejection(probeConnections('http://127.0.0.1:9/', { [option]: value }));
        expect(err).to.be.instanceOf(TypeError);
        expect(err.code).to.equal(code);
        expect(err.message).to.match(new RegExp(`^probeConnections\\(\\): option "${option}" must be `));
        expect(err.message).to.match(allowed);
      });
    }
  });
});

describe('connectionPolicy(): the error code says whether the type or the value is wrong', () => {
  const cases: Array<[option: string, value: unknown, code: string]> = [
    ['policy', 'sometimes', 'ERR_INVALID_ARG_VALUE'],
    ['policy', 5, 'ERR_INVALID_ARG_TYPE'],
    ['policy', null, 'ERR_INVALID_ARG_TYPE'],
    ['exposeConnectionId', 'not a header', 'ERR_INVALID_ARG_VALUE'],
    ['exposeConnectionId', 5, 'ERR_INVALID_ARG_TYPE'],
  ];
  for (const [option, value, code] of cases) {
    it(`${option}: ${JSON.stringify(value)} → ${code}`, () => {
      const err = thrownBy(() => connectionPolicy({ [option]: value }));
      expect(err.code).to.equal(code);
      expect(err).to.be.instanceOf(TypeError);
      expect(err.message).to.match(new RegExp(`^connectionPolicy\\(\\): option "${option}" must be `));
    });
  }
  it('a policy function and a header name are accepted', () => {
    expect(() => connectionPolicy({ policy: () => 'close' })).to.not.throw();
    expect(() => connectionPolicy({ exposeConnectionId: 'X-Conn' })).to.not.throw();
  });
});

function expectTypeError(fn: () => unknown, message: RegExp): void {
  const err = thrownBy(fn);
  expect(err.constructor).to.equal(TypeError);
  expect(err.message).to.match(message);
}
