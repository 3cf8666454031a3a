/**
 * Type-checks the TypeScript snippets of the docs, so that a renamed option breaks CI, not the
 * reader: every ```ts block of README.md files and docs/ is written to `.snippets/` next to its
 * Markdown file (inside the repository, so `@carrier/*` and relative imports such as
 * `../src/faults.js` resolve as they would for a file there) and compiled with the repository's
 * tsconfig.base.json, workspace packages resolved to their sources (no build needed).
 *
 * Markers before a block (see docs/development.md, "Docs that are checked"):
 *   <!-- ts: prelude <code> -->   compiled before the block (declarations the reader can imagine)
 *   <!-- ts: partial -->          a deliberate fragment: listed, not compiled
 *   <!-- ts: in src -->           written into that folder (relative to the Markdown file) as a
 *                                 hidden file, so its `./x.js` imports resolve as from a file there
 * Several `ts:` markers may precede one block (each prelude is one line).
 *
 * Usage: tsx scripts/check-snippets.ts [--keep]   (--keep leaves the .snippets folders)
 * Exit code 1 when a snippet does not compile.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allBlocks, type Block, where } from './markdown-blocks.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const TS = new Set(['ts', 'typescript', 'tsx', 'mts']);

interface Snippet {
  block: Block;
  /** Absolute path of the generated .ts file. */
  path: string;
  /** Lines of prelude written before the block's code. */
  preludeLines: number;
  /** Written into a source folder (`ts: in`): removed as a file, not with its folder. */
  inPlace: boolean;
}

const blocks = allBlocks(root).filter((b) => TS.has(b.lang));
const partial = blocks.filter((b) => tsMarkers(b).includes('partial'));
const snippets = blocks.filter((b) => !partial.includes(b)).map(writeSnippet);
const folders = new Set(snippets.filter((s) => !s.inPlace).map((s) => dirname(s.path)));
const tsconfig = join(root, '.snippets', 'tsconfig.json');
mkdirSync(dirname(tsconfig), { recursive: true });
writeFileSync(
  tsconfig,
  JSON.stringify(
    {
      extends: '../tsconfig.base.json',
      compilerOptions: {
        noEmit: true,
        composite: false,
        declaration: false,
        declarationMap: false,
        sourceMap: false,
        customConditions: ['carrier-source'],
      },
      files: snippets.map((s) => relative(dirname(tsconfig), s.path)),
    },
    null,
    2,
  ),
);

let output = '';
let failed = false;
try {
  execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', tsconfig, '--pretty', 'false'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
} catch (error) {
  failed = true;
  const e = error as { stdout?: string; stderr?: string };
  output = `${e.stdout ?? ''}${e.stderr ?? ''}`;
} finally {
  if (!keep) {
    for (const s of snippets) if (s.inPlace) rmSync(s.path, { force: true });
    for (const folder of [...folders, dirname(tsconfig)]) rmSync(folder, { recursive: true, force: true });
  }
}

for (const b of partial) console.log(`partial (not compiled): ${where(b)}`);
if (failed) {
  const errors = output.split('\n').filter((l) => l.trim() !== '');
  for (const line of errors) console.log(mapBack(line));
  console.log(`\n${snippets.length} snippets compiled: ${errors.length} error line(s); fix the docs.`);
  process.exit(1);
}
console.log(`${snippets.length} TypeScript snippets compile (${partial.length} marked partial).`);

/** The values of the block's `<!-- ts: … -->` markers. */
function tsMarkers(block: Block): string[] {
  return block.markerList.filter((m) => m.key === 'ts').map((m) => m.value);
}

function writeSnippet(block: Block): Snippet {
  const markers = tsMarkers(block);
  const prelude = markers.filter((m) => m.startsWith('prelude ')).map((m) => m.slice('prelude '.length));
  const dir = markers.find((m) => m.startsWith('in '))?.slice('in '.length);
  const name = `${basename(block.file, '.md')}-${block.line}.ts`;
  // In .snippets/ next to the Markdown file, or as a hidden file in the folder a `ts: in` marker names.
  const path =
    dir === undefined
      ? join(root, dirname(block.file), '.snippets', name)
      : join(root, dirname(block.file), dir, `.snippet-${name}`);
  mkdirSync(dirname(path), { recursive: true });
  // `export {}` makes each snippet a module: top-level await works and names never clash.
  writeFileSync(path, [...prelude, ...block.code, 'export {};', ''].join('\n'));
  return { block, path, preludeLines: prelude.length, inPlace: dir !== undefined };
}

/** `docs/.snippets/kafka-250.ts(3,7): error …` → `docs/brokers/kafka.md:253:7: error …` */
function mapBack(line: string): string {
  const m = /^(.*?\.ts)\((\d+),(\d+)\): (.*)$/.exec(line);
  const snippet = m && snippets.find((s) => s.path === join(root, m[1] ?? ''));
  if (!m || !snippet) return line;
  const inSnippet = Number(m[2]);
  const mdLine =
    inSnippet <= snippet.preludeLines
      ? snippet.block.line - 1
      : snippet.block.line + inSnippet - snippet.preludeLines;
  return `${snippet.block.file}:${mdLine}:${m[3]}: ${m[4]}`;
}
