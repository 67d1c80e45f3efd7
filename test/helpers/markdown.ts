// Just enough Markdown for the docs tests: fenced blocks, tables, links and the
// anchors GitHub gives headings.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The pages the docs tests cover, relative to the repository. */
export const PAGES = [
  'README.md',
  'CONTRIBUTING.md',
  'docs/decisions.md',
  'docs/shutdown.md',
  'docs/streaming.md',
  'docs/http2.md',
  'docs/frameworks.md',
  'docs/observability.md',
  'docs/testing.md',
  'docs/doctor.md',
  'docs/performance.md',
  'docs/troubleshooting.md',
  'docs/api.md',
] as const;

export function read(page: string): string {
  return readFileSync(new URL(`../../${page}`, import.meta.url), 'utf8');
}

export interface Block {
  page: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  code: string;
}

export function blocks(page: string): Block[] {
  const found: Block[] = [];
  let open: { line: number; lang: string; lines: string[] } | undefined;
  read(page)
    .split('\n')
    .forEach((text, i) => {
      if (text.startsWith('```')) {
        if (open === undefined) open = { line: i + 1, lang: text.slice(3).trim(), lines: [] };
        else {
          found.push({ page, line: open.line, lang: open.lang, code: open.lines.join('\n') });
          open = undefined;
        }
      } else {
        open?.lines.push(text);
      }
    });
  return found;
}

/** Lines outside fenced blocks, with their 1-based numbers. */
function prose(page: string): Array<{ line: number; text: string }> {
  let inBlock = false;
  return read(page)
    .split('\n')
    .map((text, i) => ({ line: i + 1, text }))
    .filter(({ text }) => {
      if (text.startsWith('```')) inBlock = !inBlock;
      return !inBlock && !text.startsWith('```');
    });
}

export interface Table {
  line: number;
  header: string[];
  rows: string[][];
  /** The prose before the table, back to the previous heading. */
  before: string;
}

function cells(line: string): string[] {
  return line
    .replace(/\\\|/g, '\ue000')
    .split('|')
    .slice(1, -1)
    .map((c) => c.trim().replace(/\ue000/g, '|'));
}

export function tables(page: string): Table[] {
  const lines = prose(page);
  const found: Table[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.text.startsWith('|') || lines[i - 1]?.text.startsWith('|')) continue;
    const rows: string[][] = [];
    for (let j = i + 2; j < lines.length && lines[j]!.text.startsWith('|'); j++) rows.push(cells(lines[j]!.text));
    const back: string[] = [];
    for (let k = i - 1; k >= 0 && !lines[k]!.text.startsWith('#'); k--) back.unshift(lines[k]!.text);
    found.push({ line: lines[i]!.line, header: cells(lines[i]!.text), rows, before: back.join('\n') });
  }
  return found;
}

/** The rows of the first table after `heading` (a heading line's start). */
export function tableAfter(page: string, heading: string): string[][] {
  const headingLine = read(page)
    .split('\n')
    .findIndex((l) => l.startsWith(heading));
  if (headingLine < 0) throw new Error(`${page} has no heading "${heading}"`);
  const table = tables(page).find((t) => t.line > headingLine);
  if (table === undefined) throw new Error(`${page}: no table after "${heading}"`);
  return table.rows;
}

export interface Link {
  page: string;
  line: number;
  target: string;
}

/** Every inline link outside code blocks. */
export function links(page: string): Link[] {
  return prose(page).flatMap(({ line, text }) =>
    [...text.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)].map((m) => ({ page, line, target: m[1]! })),
  );
}

/** The anchors GitHub gives a page's headings (lower case, punctuation dropped, spaces to `-`). */
export function anchors(page: string): Set<string> {
  return new Set(
    prose(page)
      .filter(({ text }) => /^#{1,6} /.test(text))
      .map(({ text }) =>
        text
          .replace(/^#+ /, '')
          .toLowerCase()
          .replace(/[^\p{L}\p{N}\s_-]/gu, '')
          .replace(/\s/g, '-'),
      ),
  );
}
