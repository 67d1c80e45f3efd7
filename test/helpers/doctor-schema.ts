// The doctor's `--json` schema is the file the package ships (schema/doctor.json):
// tests validate real output against that very file, so it cannot drift.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';

/** schema/doctor.json, parsed. */
export function shippedSchema(): { $id: string } & Record<string, unknown> {
  return JSON.parse(readFileSync(new URL('../../schema/doctor.json', import.meta.url), 'utf8')) as { $id: string };
}

const validate = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true }).compile(shippedSchema());

/** Throws with every violation when `document` does not match schema/doctor.json. */
export function assertDiagnosisSchema(document: unknown): void {
  if (!validate(document)) {
    const errors = validate.errors!.map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
    throw new Error(`doctor --json output does not match schema/doctor.json:\n  ${errors.join('\n  ')}`);
  }
}
