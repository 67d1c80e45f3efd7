#!/usr/bin/env node
// connection-doctor: how does this HTTP/1.1 server handle connections?
//
//   npx connection-doctor http://127.0.0.1:4566/ [--requests 30] [--method POST]
//       [--data BODY] [--header 'Name: value']… [--idle [--max-idle 75000]] [--json]
//
// Exit status: 0 nothing found, 1 findings, 2 bad usage or unreachable server.
import { main } from './main.js';

// The executable: everything else is importable without side effects (./main.js).
// process.exit, not exitCode: a server that keeps a socket half-open must not keep
// the doctor waiting once the report is out.
void main(process.argv.slice(2)).then((code) => process.exit(code));
