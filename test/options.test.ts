import { expect } from 'chai';
import { connectionPolicy, type ConnectionPolicyOptions } from '../src/index.js';
import { DEFAULTS } from '../src/options.js';

type Bad = [option: string, value: unknown, error: typeof TypeError | typeof RangeError, allowed: RegExp];

// Every option, every way of getting it wrong: the error is thrown by
// connectionPolicy() itself and names the option, the value and what is allowed.
const BAD: Bad[] = [
  ['policy', 'keepalive', TypeError, /'keep-alive', 'close' or a function/],
  ['policy', 42, TypeError, /'keep-alive', 'close' or a function/],
  ['policy', null, TypeError, /'keep-alive', 'close' or a function/],
  ['idleTimeout', '65000', TypeError, /integer number of milliseconds from 1/],
  ['idleTimeout', 0, RangeError, /integer number of milliseconds from 1/],
  ['idleTimeout', -5, RangeError, /from 1 to 2147483647/],
  ['idleTimeout', 1.5, RangeError, /integer/],
  ['idleTimeout', NaN, RangeError, /integer/],
  ['idleTimeout', Infinity, RangeError, /from 1 to 2147483647/],
  ['idleTimeout', 2 ** 31, RangeError, /from 1 to 2147483647/],
  ['maxRequests', 0, RangeError, /integer ≥ 1 or Infinity/],
  ['maxRequests', 2.5, RangeError, /integer ≥ 1 or Infinity/],
  ['maxRequests', NaN, RangeError, /integer ≥ 1 or Infinity/],
  ['maxRequests', -Infinity, RangeError, /integer ≥ 1 or Infinity/],
  ['maxRequests', '10', TypeError, /integer ≥ 1 or Infinity/],
  ['maxAge', 0, RangeError, /milliseconds from 1 to 2147483647, or Infinity/],
  ['maxAge', NaN, RangeError, /milliseconds from 1 to 2147483647, or Infinity/],
  ['maxAge', true, TypeError, /milliseconds from 1 to 2147483647, or Infinity/],
  // 30 days: past Node's timer limit, where a timer fires at once.
  ['maxAge', 30 * 24 * 3600 * 1000, RangeError, /milliseconds from 1 to 2147483647, or Infinity/],
  ['maxAge', 2 ** 31, RangeError, /milliseconds from 1 to 2147483647/],
  ['maxAge', 1.5, RangeError, /integer number of milliseconds/],
  ['maxAgeJitter', 1.5, RangeError, /from 0 to 1/],
  ['maxAgeJitter', -0.1, RangeError, /from 0 to 1/],
  ['maxAgeJitter', NaN, RangeError, /from 0 to 1/],
  ['maxAgeJitter', '0.1', TypeError, /from 0 to 1/],
  ['advertise', 'yes', TypeError, /true or false/],
  ['advertise', 1, TypeError, /true or false/],
  ['noDelay', 0, TypeError, /true or false/],
  ['noDelay', null, TypeError, /true or false/],
  ['tcpKeepAlive', true, TypeError, /false or an integer number of milliseconds from 1000/],
  ['tcpKeepAlive', 0, RangeError, /false or an integer number of milliseconds from 1000/],
  ['tcpKeepAlive', NaN, RangeError, /false or an integer number of milliseconds from 1000/],
  // Node sets whole seconds: 500 ms would silently mean the OS default (2 hours on Linux).
  ['tcpKeepAlive', 500, RangeError, /from 1000 .*whole seconds/],
  ['tcpKeepAlive', 999, RangeError, /from 1000/],
  ['tcpKeepAlive', 1500.5, RangeError, /integer/],
  ['exposeConnectionId', 'bad header', TypeError, /valid header name/],
  ['exposeConnectionId', '', TypeError, /valid header name/],
  ['exposeConnectionId', 1, TypeError, /boolean or a valid header name/],
];

describe('connectionPolicy(options)', () => {
  describe('bad options throw at construction', () => {
    for (const [option, value, ErrorClass, allowed] of BAD) {
      it(`${option}: ${String(value)} → ${ErrorClass.name}`, () => {
        let thrown: unknown;
        try {
          connectionPolicy({ [option]: value });
        } catch (err) {
          thrown = err;
        }
        expect(thrown).to.be.instanceOf(ErrorClass);
        const err = thrown as Error & { code: string };
        expect(err.constructor).to.equal(ErrorClass);
        expect(err.message).to.include(`"${option}"`);
        expect(err.message).to.match(allowed);
        const shown = typeof value === 'string' ? `'${value}'` : String(value);
        expect(err.message).to.include(`got ${shown}`);
        if (ErrorClass === RangeError) expect(err.code).to.equal('ERR_OUT_OF_RANGE');
        else expect(err.code).to.be.oneOf(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE']);
      });
    }

    it('rejects an unknown option and names the closest known one', () => {
      expect(() => connectionPolicy({ idleTimout: 1000 } as ConnectionPolicyOptions))
        .to.throw(TypeError, /unknown option "idleTimout" \(did you mean "idleTimeout"\?\)/)
        .with.property('code', 'ERR_INVALID_ARG_VALUE');
      expect(() => connectionPolicy({ keepAliveTimeout: 1000 } as ConnectionPolicyOptions)).to.throw(
        TypeError,
        /unknown option "keepAliveTimeout"; known options are policy, idleTimeout/,
      );
    });

    it('rejects options that are not an object', () => {
      for (const bad of [null, 5, 'keep-alive', [1]]) {
        expect(() => connectionPolicy(bad as unknown as ConnectionPolicyOptions)).to.throw(
          TypeError,
          /option "options" must be an object or undefined/,
        );
      }
    });
  });

  describe('valid options', () => {
    it('fills in every default', () => {
      // Written out, not taken from DEFAULTS: a changed default must fail here (and in
      // the README table test) rather than pass along with the code.
      expect(connectionPolicy().options).to.deep.equal({
        policy: 'keep-alive',
        idleTimeout: 65_000,
        maxRequests: Infinity,
        maxAge: Infinity,
        maxAgeJitter: 0.1,
        advertise: true,
        noDelay: true,
        tcpKeepAlive: false,
        exposeConnectionId: false,
        advertisedTimeout: 64,
      });
      expect(Object.isFrozen(connectionPolicy().options)).to.equal(true);
    });

    it('treats undefined like an omitted option', () => {
      expect(connectionPolicy({ idleTimeout: undefined, policy: undefined }).options.idleTimeout).to.equal(65_000);
    });

    it('accepts the edges of every range', () => {
      const p = connectionPolicy({
        policy: 'close',
        idleTimeout: 1,
        maxRequests: Infinity,
        maxAge: Infinity,
        maxAgeJitter: 0,
        advertise: false,
        noDelay: false,
        tcpKeepAlive: 1000,
        exposeConnectionId: 'X-Conn-Id',
      });
      expect(p.options.exposeConnectionId).to.equal('x-conn-id');
      expect(() => connectionPolicy({ maxRequests: 1, maxAge: 1, maxAgeJitter: 1, idleTimeout: 2 ** 31 - 1 })).not.to.throw();
      expect(() => connectionPolicy({ maxAge: 2 ** 31 - 1, tcpKeepAlive: 2 ** 31 - 1 })).not.to.throw();
    });

    it('returns a frozen copy and never changes the caller’s object', () => {
      const given = Object.freeze({ idleTimeout: 5000, maxRequests: 10 });
      const policy = connectionPolicy(given);
      expect(Object.isFrozen(policy.options)).to.equal(true);
      expect(policy.options).to.not.equal(given);
      expect(given).to.deep.equal({ idleTimeout: 5000, maxRequests: 10 });
      expect(Object.isFrozen(DEFAULTS)).to.equal(true);
    });

    it('exposeConnectionId: true uses x-connection-id', () => {
      expect(connectionPolicy({ exposeConnectionId: true }).options.exposeConnectionId).to.equal('x-connection-id');
    });
  });
});
