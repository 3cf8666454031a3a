/**
 * Fenced code blocks of the repository's Markdown files, with the markers written before them.
 * Shared by check-snippets.ts (```ts blocks) and run-shell-blocks.ts (```sh / ```bash blocks).
 *
 * A marker is an HTML comment on the line(s) just before the opening fence (blank lines allowed
 * in between): `<!-- needs: broker -->`, `<!-- run: fresh-clone -->`, `<!-- ts: partial -->`,
 * `<!-- ts: prelude declare function invoice(body: unknown): Promise<void>; -->`, `<!-- ts: in src -->`. They do not
 * show on GitHub; docs/development.md ("Docs that are checked") lists them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface Block {
  /** Markdown file, relative to the repository root, with `/` separators. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** Language word after the fence (`ts`, `sh`, …), lower case; `''` when none. */
  lang: string;
  /** Lines between the fences, the fence's indentation removed. */
  code: string[];
  /** Markers before the block: `{ needs: 'broker' }` for `<!-- needs: broker -->` (the last one of a key). */
  markers: Record<string, string>;
  /** Every marker before the block, in order (a key may repeat: several `ts:` markers). */
  markerList: { key: string; value: string }[];
}

/** Markdown files a reader is pointed to: README.md files and docs/, not node_modules or dist. */
export function markdownFiles(root: string): string[] {
  const out: string[] = [];
  const skip = new Set(['node_modules', 'dist', 'docs/api', 'bench/results']);
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const rel = relative(root, path).split('\\').join('/');
      if (name.startsWith('.') || skip.has(name) || skip.has(rel)) continue;
      if (statSync(path).isDirectory()) walk(path);
      else if (name === 'README.md' || (rel.startsWith('docs/') && name.endsWith('.md'))) out.push(rel);
    }
  };
  walk(root);
  return out;
}

const MARKER = /^\s*<!--\s*([a-z-]+):\s*(.*?)\s*-->\s*$/;
const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/;

/** The fenced blocks of one Markdown file, in order. */
export function blocksOf(root: string, file: string): Block[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  let markers: Record<string, string> = {};
  let markerList: { key: string; value: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] ?? '';
    const marker = MARKER.exec(text);
    if (marker) {
      markers[marker[1] ?? ''] = marker[2] ?? '';
      markerList.push({ key: marker[1] ?? '', value: marker[2] ?? '' });
      continue;
    }
    const fence = FENCE.exec(text);
    if (!fence) {
      if (text.trim() !== '') {
        markers = {};
        markerList = [];
      }
      continue;
    }
    const indent = fence[1]?.length ?? 0;
    const close = fence[2] ?? '```';
    const code: string[] = [];
    const start = i;
    for (i++; i < lines.length && !(lines[i] ?? '').trim().startsWith(close); i++) {
      code.push((lines[i] ?? '').slice(Math.min(indent, leadingSpaces(lines[i] ?? ''))));
    }
    blocks.push({ file, line: start + 1, lang: (fence[3] ?? '').toLowerCase(), code, markers, markerList });
    markers = {};
    markerList = [];
  }
  return blocks;
}

function leadingSpaces(line: string): number {
  return line.length - line.trimStart().length;
}

/** Every fenced block of every Markdown file under `root`. */
export function allBlocks(root: string): Block[] {
  return markdownFiles(root).flatMap((file) => blocksOf(root, file));
}

/** `README.md:8` */
export function where(block: Block): string {
  return `${block.file}:${block.line}`;
}
