// The self-signed localhost certificate the TLS tests serve (test/fixtures/localhost-*.pem).
import { readFileSync } from 'node:fs';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));

/** `key` and `cert` for https.createServer / http2.createSecureServer. */
export const TLS = Object.freeze({ key: fixture('localhost-key.pem'), cert: fixture('localhost-cert.pem') });
