// The doctor's `--json` schema is the one in the README: tests validate real
// output against that very block, so the documentation cannot drift.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';

/** The fenced JSON block under the README's "`--json` output" heading. */
export function readmeSchema(readme = readFileSync('README.md', 'utf8')): object {
  const section = readme.split(/^### `--json` output$/m)[1];
  const block = section?.match(/```json\n([\s\S]*?)\n```/)?.[1];
  if (!block) throw new Error('README: no ```json block under "### `--json` output"');
  return JSON.parse(block) as object;
}

const validate = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true }).compile(readmeSchema());

/** Throws with every violation when `document` does not match the README's schema. */
export function assertDiagnosisSchema(document: unknown): void {
  if (!validate(document)) {
    const errors = validate.errors!.map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
    throw new Error(`doctor --json output does not match the README's schema:\n  ${errors.join('\n  ')}`);
  }
}
