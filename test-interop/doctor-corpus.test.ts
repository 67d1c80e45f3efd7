import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { Diagnosis } from '../src/doctor/diagnose.js';
import { assertDiagnosisSchema } from '../test/helpers/doctor-schema.js';
import { CORPUS, startCorpusServer, type CorpusServer, type RunningServer } from './helpers/corpus.js';

/** The doctor as users run it: the built CLI, `--json`, with the idle probe bounded at 8 s. */
const ARGS = ['--json', '--idle', '--max-idle', '8000', '--requests', '20'];

interface Outcome {
  server: RunningServer;
  code: number | null;
  stdout: string;
  stderr: string;
}

function doctor(url: string): Promise<Omit<Outcome, 'server'>> {
  return new Promise((resolve) => {
    execFile('node', ['dist/esm/doctor/cli.js', url, ...ARGS], { timeout: 90_000 }, (err, stdout, stderr) => {
      // execFile's error carries the exit status as `code` (a number), or a spawn error's string.
      const code: unknown = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
    });
  });
}

/** Runs `task` over `items`, `width` at a time (the idle probes mostly wait). */
async function pool<T, R>(items: readonly T[], width: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await task(items[i]!);
      }
    }),
  );
  return results;
}

// Each server of the corpus, diagnosed by the doctor's CLI; the findings must be
// exactly the expected ones — one appearing or disappearing fails. Two servers
// are diagnosed at a time: the idle probe waits up to 8 s on each.
describe('connection-doctor on real servers (the corpus)', function () {
  this.timeout(240_000);
  const outcomes = new Map<CorpusServer, Outcome>();
  const failures = new Map<CorpusServer, Error>();

  before(async function () {
    if (!existsSync('dist/esm/doctor/cli.js')) throw new Error('dist/ is missing: run `npm run build` (npm test does) first');
    await pool(CORPUS, 2, async (entry) => {
      let server: RunningServer | undefined;
      try {
        server = await startCorpusServer(entry);
        outcomes.set(entry, { server, ...(await doctor(server.url)) });
      } catch (err) {
        failures.set(entry, err as Error);
      } finally {
        await server?.stop();
      }
    });
  });

  after(async () => {
    // docs/doctor.md's table, from this run: server, version, findings.
    const rows = CORPUS.map((entry) => {
      const outcome = outcomes.get(entry);
      if (!outcome) return `| ${entry.name} | (did not run) | |`;
      let codes = '(no JSON)';
      try {
        const found = (JSON.parse(outcome.stdout) as Diagnosis).findings.map((f) => `\`${f.code}\``);
        codes = found.join(', ') || 'none';
      } catch {
        /* reported by the test */
      }
      return `| ${entry.name} | ${outcome.server.version} | ${codes} |`;
    });
    const table = ['| server | version | findings |', '| --- | --- | --- |', ...rows].join('\n');
    console.log(`\n      the corpus (connection-doctor ${ARGS.join(' ')}):\n${table}\n`);
    if (process.env.DOCTOR_CORPUS_TABLE) await writeFile(process.env.DOCTOR_CORPUS_TABLE, `${table}\n`);
  });

  for (const entry of CORPUS) {
    it(`${entry.name}: ${entry.expected.join(', ') || 'no findings'}`, () => {
      const failure = failures.get(entry);
      if (failure) throw failure;
      const { code, stdout, stderr } = outcomes.get(entry)!;
      expect(code, `exit status (stderr: ${stderr.slice(-500)})`).to.equal(entry.expected.length === 0 ? 0 : 1);
      const diagnosis = JSON.parse(stdout) as Diagnosis;
      assertDiagnosisSchema(diagnosis);
      const found = diagnosis.findings.map((f) => f.code);
      expect(found, `${entry.why}\n${JSON.stringify({ ...diagnosis, findings: undefined }, null, 1)}`).to.deep.equal(
        entry.expected,
      );
    });
  }
});
