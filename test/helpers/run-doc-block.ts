// Runs one code block of the docs (extracted to a file by test/docs.test.ts) the
// way a user would paste it into a module: any uncaught error or rejection fails
// it; once its top level has run (top-level awaits included), it gets a moment to
// fail asynchronously and the process exits, ending any server it started.
import { pathToFileURL } from 'node:url';

const file = process.argv[2]!;
const fail = (err: unknown) => {
  console.error(`docs block ${file} failed:`, err);
  process.exit(1);
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
await import(pathToFileURL(file).href);
console.log('::top level done::');
setTimeout(() => process.exit(0), 300);
