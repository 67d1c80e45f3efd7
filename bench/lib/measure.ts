import { percentile } from '../../src/doctor/percentile.js';

export { percentile };

export const median = (values: readonly number[]): number => percentile(values, 50);

export const mean = (values: readonly number[]): number =>
  values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;

/** A plain text table: first row is the header; numbers right-aligned. */
export function table(rows: ReadonlyArray<ReadonlyArray<string>>): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const numeric = (s: string) => /^[-\d.,×x%]+$/.test(s) || s === '–';
  const line = (r: ReadonlyArray<string>, isHeader: boolean) =>
    r
      .map((c, i) => (!isHeader && numeric(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(rows[0]!, true), rule, ...rows.slice(1).map((r) => line(r, false))].join('\n');
}

export const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : '–');
