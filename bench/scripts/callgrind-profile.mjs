// Where the instructions of `npm run bench:core` go, function by function: one side of the
// instruction figure (bench/src/instructions.ts) run the same way, with callgrind writing its
// profile of the counted stretches, V8's JIT code named from `--perf-basic-prof`'s map.
//
//   npm run build -w @carrier/bench   (or npm run bench:core once)
//   node bench/scripts/callgrind-profile.mjs core carrier /tmp/carrier.out > carrier.txt
//   node bench/scripts/callgrind-profile.mjs core raw /tmp/raw.out > raw.txt
//
// Prints exclusive instructions per message (the two counted stretches, n1 + n2 messages) by
// function, highest first: `JS:*name` optimized JavaScript, `JS:^name` baseline, `'2` a recursive
// call. Inlined functions count in their caller. A diagnostic: the figure itself stays
// bench:core's. Needs valgrind (bench/scripts/install-valgrind.sh) and callgrind_annotate.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const [broker = 'core', side = 'carrier', out = path.join(os.tmpdir(), `callgrind-${side}.out`), top = '60'] =
  process.argv.slice(2);
const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const { DEFAULT_COUNTS, NODE_FLAGS, VALGRIND_FLAGS } = await import(path.join(dist, 'instructions.js'));
const counts = DEFAULT_COUNTS[side];
const dir = mkdtempSync(path.join(os.tmpdir(), 'callgrind-profile-'));
const flags = VALGRIND_FLAGS.filter((f) => !f.startsWith('--callgrind-out-file='));
const child = spawn(
  'valgrind',
  [
    ...flags,
    `--callgrind-out-file=${out}`,
    process.execPath,
    ...NODE_FLAGS,
    '--perf-basic-prof',
    path.join(dist, 'instructions-child.js'),
    broker,
    side,
    dir,
    String(counts.warmup),
    String(counts.n1),
    String(counts.n2),
  ],
  // cwd: the hand-over directory, which also takes the v8 log --perf-basic-prof writes
  { stdio: ['ignore', 'pipe', 'ignore'], cwd: dir },
);
const pid = String(child.pid);
const control = (args) =>
  new Promise((resolve, reject) =>
    execFile('callgrind_control', args, (error, stdout) => (error ? reject(error) : resolve(stdout))),
  );
let handOvers = 0;
createInterface({ input: child.stdout }).on('line', async (line) => {
  if (line !== 'start' && line !== 'stop') return;
  const go = path.join(dir, `go-${++handOvers}`);
  await control(['-i', line === 'start' ? 'on' : 'off', pid]);
  writeFileSync(go, '');
});
const code = await new Promise((resolve) => child.on('close', resolve));
rmSync(dir, { recursive: true, force: true });
if (code !== 0) throw new Error(`valgrind exited with ${code}`);

// V8's map of its generated code: `<start hex> <size hex> <name>` per line
const mapFile = `/tmp/perf-${pid}.map`;
const entries = readFileSync(mapFile, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => {
    const [start, size, ...name] = l.split(' ');
    return { start: Number.parseInt(start, 16), size: Number.parseInt(size, 16), name: name.join(' ') };
  })
  .sort((a, b) => a.start - b.start);
rmSync(mapFile, { force: true });
function jitName(address) {
  let lo = 0;
  let hi = entries.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (entries[mid].start <= address) lo = mid + 1;
    else hi = mid - 1;
  }
  const e = entries[hi];
  return e && address < e.start + e.size ? e.name : undefined;
}

const annotated = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', out], {
  encoding: 'utf8',
  maxBuffer: 256 * 1024 * 1024,
});
const messages = counts.n1 + counts.n2;
const byName = new Map();
for (const line of annotated.split('\n')) {
  const m = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/.exec(line);
  if (!m || m[2].includes('PROGRAM TOTALS')) continue;
  let name = m[2];
  const hex = /0x([0-9a-f]+)/.exec(name);
  if (hex && name.includes('[???]'))
    name = (jitName(Number.parseInt(hex[1], 16)) ?? name) + (name.includes("'2") ? " '2" : '');
  name = name.replace(/file:\/\/\S*?\/(packages|bench)\//, '$1/');
  byName.set(name, (byName.get(name) ?? 0) + Number(m[1].replaceAll(',', '')));
}
const total = [...byName.values()].reduce((a, b) => a + b, 0);
console.log(
  `# ${broker} ${side}: ${(total / messages).toFixed(0)} instructions per message (${messages} messages counted)`,
);
for (const [name, ir] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, Number(top)))
  console.log(`${(ir / messages).toFixed(1).padStart(9)}  ${name.slice(0, 140)}`);
