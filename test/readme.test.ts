import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../src/errors.js';
import { DRAIN_DEFAULTS } from '../src/drain.js';
import { DEFAULTS } from '../src/options.js';
import { CORPUS } from '../test-interop/helpers/corpus.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The rows of the Markdown table that follows `heading`, as arrays of cells. */
function tableAfter(heading: string): string[][] {
  const start = README.indexOf(heading);
  expect(start, `README has no "${heading}"`).to.be.greaterThan(-1);
  const lines = README.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .replace(/\\\|/g, '\ue000')
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim().replace(/\ue000/g, '|')),
    );
  }
  return rows;
}

function formatDefault(value: unknown): string {
  if (typeof value === 'string') return `\`'${value}'\``;
  return `\`${String(value)}\``;
}

describe('README', () => {
  it('gives the two commands on its first screen', () => {
    const firstScreen = README.split('\n').slice(0, 25).join('\n');
    expect(firstScreen).to.include('npm install && npm start');
    expect(firstScreen).to.include('npm test');
  });

  it('documents every option with the default the code uses', () => {
    const rows = tableAfter('## Options');
    const documented = Object.fromEntries(rows.map(([name, , def]) => [name!.replace(/`/g, ''), def]));
    expect(Object.keys(documented)).to.deep.equal(Object.keys(DEFAULTS));
    for (const [name, value] of Object.entries(DEFAULTS)) {
      expect(documented[name], name).to.equal(formatDefault(value));
    }
  });

  it('documents every drain() option with the default the code uses', () => {
    const rows = tableAfter('## Graceful shutdown');
    const documented = Object.fromEntries(rows.map(([name, def]) => [name!.replace(/`/g, ''), def]));
    expect(Object.keys(documented)).to.deep.equal(Object.keys(DRAIN_DEFAULTS));
    for (const [name, value] of Object.entries(DRAIN_DEFAULTS)) {
      expect(documented[name], name).to.equal(formatDefault(value));
    }
  });

  it('lists exactly the error codes the code throws, with their classes', () => {
    const rows = tableAfter('## Errors');
    const documented = Object.fromEntries(rows.map(([code, cls]) => [code!.replace(/`/g, ''), cls!.replace(/`/g, '')]));
    expect(documented).to.deep.equal(Object.fromEntries(Object.entries(ERROR_CODES).map(([code, cls]) => [code, cls.name])));
  });

  it("the doctor's table of popular servers has every corpus server with the findings the interop test expects", () => {
    const rows = tableAfter('### What the doctor says about popular servers');
    const findings = (cell: string) => (cell === 'none' ? [] : cell.split(', ').map((c) => c.replace(/`/g, '')));
    expect(rows.map(([name, , cell]) => [name, findings(cell!)])).to.deep.equal(CORPUS.map((s) => [s.name, s.expected]));
  });
});
