import { expect } from 'chai';
import { connectionIdOf, formatConnectionId, parseConnectionId } from '../src/connection-id.js';

// The `<id>;req=<n>` format has one home: the middleware writes it, the test
// helpers and the doctor read it.
describe('connection ids', () => {
  it('gives each connection one id for its life, unique in the process', () => {
    const a = {};
    const b = {};
    const idA = connectionIdOf(a);
    expect(connectionIdOf(a)).to.equal(idA);
    expect(connectionIdOf(b)).to.equal(idA + 1);
  });

  it('formats <id>;req=<n> and parses it back', () => {
    expect(formatConnectionId(12, 3)).to.equal('12;req=3');
    expect(parseConnectionId('12;req=3')).to.deep.equal({ id: '12', requests: 3 });
    expect(parseConnectionId(formatConnectionId('abc', 1))).to.deep.equal({ id: 'abc', requests: 1 });
  });

  it("reads another server's value: the id before ';', the ordinal only where it says req=", () => {
    expect(parseConnectionId(' 7 ')).to.deep.equal({ id: '7', requests: undefined });
    expect(parseConnectionId('7; req=12 ')).to.deep.equal({ id: '7', requests: 12 });
    expect(parseConnectionId('7;x=1;req=2')).to.deep.equal({ id: '7', requests: 2 });
    expect(parseConnectionId('7;xreq=2')).to.deep.equal({ id: '7', requests: undefined });
    expect(parseConnectionId('req=2')).to.deep.equal({ id: 'req=2', requests: undefined });
    expect(parseConnectionId(undefined)).to.equal(undefined);
  });
});
