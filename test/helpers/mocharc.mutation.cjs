// Mocha's settings for StrykerJS's mocha runner (scripts/mutation-socket.sh): the spec
// list is in stryker.socket.config.json; TypeScript comes from testRunnerNodeArgs.
module.exports = { timeout: 5000 };
