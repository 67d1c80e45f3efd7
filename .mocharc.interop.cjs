// `npm run test:interop`: real peers (nginx, HAProxy, curl, the doctor's corpus).
module.exports = require('./test/helpers/mocharc.cjs')(['test-interop/**/*.test.ts'], { timeout: 60000 });
