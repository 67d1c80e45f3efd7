// Express 4 is installed as `express4` (npm alias) next to Express 5, so one test run
// covers both majors; the v5 typings describe it well enough for the tests' use.
declare module 'express4' {
  export { default } from 'express';
}
