// The suites' mocha configurations (.mocharc.cjs and friends) come from here. Mocha
// adds a config's `spec` to the files named on the command line, so
// `npx mocha test/drain.test.ts` would run the whole suite; here `spec` applies only
// when no test file is named, and a file named runs alone.
const named = process.argv.slice(2).some((arg) => /\.test\.ts$/.test(arg));

/** A configuration running `spec` (unless files are named) with these settings. */
module.exports = function config(spec, settings) {
  return {
    ...(named ? {} : { spec }),
    'node-option': ['import=tsx'],
    reporter: './test/helpers/reporter.cjs',
    'fail-zero': true,
    ...settings,
  };
};
