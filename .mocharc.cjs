// `npm test`: the unit and wire suite. `npx mocha test/<file>.test.ts` runs that file alone.
module.exports = require('./test/helpers/mocharc.cjs')(['test/**/*.test.ts'], { timeout: 10000 });
