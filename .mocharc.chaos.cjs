// `npm run test:chaos`: the soak (CHAOS_SECONDS, 30 by default).
module.exports = require('./test/helpers/mocharc.cjs')(['test-chaos/**/*.test.ts'], {
  'node-option': ['import=tsx', 'expose-gc'],
  timeout: 120000,
});
