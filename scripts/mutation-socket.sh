#!/usr/bin/env bash
# Mutation testing of the socket-level code (tracker, admission, head hook and head
# time, idle timers, drain, attach, the recorder and the reports) through the
# socket tests: `npm run test:mutation:socket`, on demand, not in CI.
#
# StrykerJS 10 needs Node ≥ 22, and its mocha runner (which gives per-test coverage,
# so each mutant runs only the tests that reach it: what makes this fit in an hour on
# two cores) cannot load mocha 12. So the run happens in a scratch copy of the working
# tree whose node_modules has mocha 11.8.0; the reports are copied back to
# reports/mutation-socket/. Arguments go to `stryker run` (e.g. `--mutate src/drain.ts`).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scratch=.tmp/mutation-socket
rm -rf "$scratch"
mkdir -p "$scratch"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$scratch"
cd "$scratch"
npm ci --no-audit --no-fund --ignore-scripts >/dev/null
npm install --no-save --no-audit --no-fund mocha@11.8.0 @stryker-mutator/core@10.1.1 @stryker-mutator/mocha-runner@10.1.1 >/dev/null
set +e
# The log lines are behaviour too (every decision with its reason): with the log
# on in the test processes, test/debug-log.test.ts runs its scenario in-process
# (coverage tells Stryker to run it against each log line's mutants) and checks
# every line. A mutant that logs where the original would not (`if (true)`) is
# then equivalent: named in CONTRIBUTING.
NODE_DEBUG=connection-policy node_modules/.bin/stryker run stryker.socket.config.json "$@"
status=$?
set -e
rm -rf "$root/reports/mutation-socket"
mkdir -p "$root/reports"
cp -r reports/mutation-socket "$root/reports/"
exit "$status"
