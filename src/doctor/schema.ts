/**
 * Where the `--json` document's schema lives: `schema/doctor.json` in the published
 * package, pinned to this version (test/doctor.test.ts checks the version against
 * package.json and the URL against the file's `$id`).
 */
export const DOCTOR_SCHEMA_URL = 'https://unpkg.com/express-connection-policy@0.1.0/schema/doctor.json';
