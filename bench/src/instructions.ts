/**
 * CPU instructions per message of the in-process figures (memory, core), counted by valgrind:
 * a figure that does not depend on the machine's load, unlike the timed ones.
 *
 * For each side (Carrier, and the same transport driven directly through the SPI), one child Node
 * (instructions-child.ts) runs under `valgrind --tool=callgrind --instr-atstart=no`: nothing is
 * counted while Node starts and the end-to-end loop warms up (20,000 messages through one
 * subscription, in stretches shaped like the counted ones). Then the parent switches callgrind's
 * instrumentation on (`callgrind_control -i on <pid>`) for a stretch of N1 = 5,000 messages through
 * the same, warm subscription, reads the count (`callgrind_control -e`) and switches it off; the
 * same again for N2 = 10,000. The figure is `(Ir(N2) − Ir(N1)) / (N2 − N1)`: the loop's
 * instructions per message in steady state (every thread; the constant instructions of the hand-over
 * cancel out). Each stretch alone gives the same within 0.2 % (`Ir(N) / N`), and the same command
 * twice within 0.2 % (2-core development machine under load, 2026-12-01): no compilation, deopt or
 * garbage collection falls into a counted stretch (checked with `--trace-opt --trace-deopt
 * --trace-gc` for every side of memory and core).
 *
 * Before (until 2026-12-01): two whole runs for N1 = 2,000 and N2 = 4,000 after a 2,000-message
 * warm-up, `(Ir(N2) − Ir(N1)) / (N2 − N1)` of callgrind's totals. Repeatable, but V8's tier-ups
 * (compiled on the main thread under `--predictable`) landed in the longer run only, so the figure
 * moved with N1 and N2 and was mostly compilation: core raw 43,058 instructions per message then,
 * 11,060 in steady state, of which 9.7 k are the bench's own payload making and stamp reading (the
 * same on both sides).
 *
 * `npm run bench:core` (node bench/dist/instructions.js) prints these figures alone; `npm run bench`
 * adds them to the memory and core figures when valgrind is installed.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { progress } from './compare.js';
import { type Figure, figure, figureLine, table, writeResults } from './report.js';

/**
 * Node's flags under valgrind. `--predictable` (one thread for compiling and GC, no concurrent
 * work whose timing varies) and `--random-seed` make V8's own work repeat; `--no-memory-reducer`
 * removes the timer-driven GC that would run at a different point every time (valgrind is 50×
 * slower, so the timers fire at other messages). A 128 MiB young generation, and a scavenge the child
 * asks for (`--expose-gc`, `gc({ type: 'minor' })`) before every stretch, mean no garbage collection
 * during a counted stretch (checked with `--trace-gc`): the count is the messages' own instructions,
 * allocation's fast path included, garbage collection not. A full collection (`gc()`) instead would
 * deoptimize the loop's code whose maps it found dead, and the recompilation would be counted.
 */
export const NODE_FLAGS = [
  '--predictable',
  '--random-seed=1',
  '--no-memory-reducer',
  '--min-semi-space-size=128',
  '--max-semi-space-size=128',
  '--expose-gc',
] as const;

/**
 * valgrind's flags: callgrind counts `Ir`, with instrumentation off until the parent switches it on;
 * `--smc-check=all-non-file` makes valgrind notice code V8 writes into anonymous memory (JIT) and
 * patches later; without it V8's patched code runs stale.
 */
export const VALGRIND_FLAGS = [
  '--tool=callgrind',
  '--callgrind-out-file=/dev/null',
  '--smc-check=all-non-file',
  '--instr-atstart=no',
] as const;

/** Messages of the warm-up and of the two counted stretches. */
export interface InstructionCounts {
  readonly warmup: number;
  readonly n1: number;
  readonly n2: number;
}

/**
 * Per side: 20,000 warm-up messages, then stretches of 5,000 and 10,000. With 10,000 warm-up
 * messages V8 still compiled some of the loop's functions in the counted stretches; with 20,000 none
 * on either side of memory and core (and 30,000 gave core's figures within 0.05 %). The counted stretches are above the loop's backlog bound
 * (1,000; below it the publisher never waits, another regime).
 */
export const DEFAULT_COUNTS: Readonly<Record<'carrier' | 'raw', InstructionCounts>> = {
  carrier: { warmup: 20_000, n1: 5_000, n2: 10_000 },
  raw: { warmup: 20_000, n1: 5_000, n2: 10_000 },
};

const CHILD = fileURLToPath(new URL('./instructions-child.js', import.meta.url));

/** Whether `valgrind` runs here. */
export function valgrindAvailable(): boolean {
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Instructions per message from the totals of two runs. */
export function perMessage(ir1: number, ir2: number, n1: number, n2: number): number {
  if (n2 === n1) throw new RangeError('n1 and n2 must differ');
  return (ir2 - ir1) / (n2 - n1);
}

/** Run `callgrind_control <args>` (it talks to the running valgrind through vgdb); its stdout. */
function control(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('callgrind_control', args, { timeout: 60_000 }, (error, stdout) => {
      if (error) reject(new Error(`callgrind_control ${args.join(' ')}: ${error.message}\n${stdout}`));
      else resolve(stdout);
    });
  });
}

/**
 * The `Ir` counted so far, every thread, from `callgrind_control -e <pid>`'s output
 * (`Totals: Ir` then one `Th <n>  <count>` line per thread, counts with thousands commas).
 */
export function parseTotals(stdout: string): number {
  const at = stdout.indexOf('Totals:');
  if (at < 0) throw new Error(`no "Totals:" in callgrind_control's output:\n${stdout}`);
  let sum = 0;
  let threads = 0;
  for (const m of stdout.slice(at).matchAll(/^\s*Th\s*\d+\s+([\d,]+)\s*$/gm)) {
    sum += Number(m[1]!.replaceAll(',', ''));
    threads++;
  }
  if (threads === 0) throw new Error(`no thread counts in callgrind_control's output:\n${stdout}`);
  return sum;
}

/** `Ir` of the two counted stretches of one child run (n1, then n2 messages). */
export interface StretchCounts {
  readonly ir1: number;
  readonly ir2: number;
}

/**
 * One child run under valgrind, instrumentation off at the start. The child warms up; then, for each
 * of n1 and n2: it runs a scavenge, says `start` (a line on stdout) and waits; the parent switches
 * instrumentation on (`callgrind_control -i on`) and lets it go (a file in a fresh directory); the
 * child runs the messages, says `stop` and waits; the parent reads the count
 * (`callgrind_control -e`: what ran since instrumentation went on, every thread; switching it on
 * starts the count from zero, while callgrind's `Collected` at exit sums the stretches), switches
 * instrumentation off and lets it go. Each stretch holds its
 * messages and the same hand-over instructions (the end of one wait, the start of the next).
 */
export async function count(broker: string, side: string, counts: InstructionCounts): Promise<StretchCounts> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'carrier-instructions-'));
  const args = [
    ...VALGRIND_FLAGS,
    process.execPath,
    ...NODE_FLAGS,
    CHILD,
    broker,
    side,
    dir,
    String(counts.warmup),
    String(counts.n1),
    String(counts.n2),
  ];
  const what = `valgrind ${broker} ${side}`;
  try {
    const totals = await new Promise<number[]>((resolve, reject) => {
      const child = spawn('valgrind', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const pid = String(child.pid);
      let stderr = '';
      let failed: Error | undefined;
      let handOvers = 0;
      const read: number[] = [];
      const steps: Record<string, () => Promise<void>> = {
        start: async () => {
          await control(['-i', 'on', pid]);
        },
        stop: async () => {
          read.push(parseTotals(await control(['-e', pid])));
          await control(['-i', 'off', pid]);
        },
      };
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr = (stderr + d).slice(-64 * 1024);
      });
      createInterface({ input: child.stdout }).on('line', (line) => {
        const step = steps[line];
        if (!step) return;
        const go = path.join(dir, `go-${++handOvers}`);
        step().then(
          () => writeFileSync(go, ''),
          (e: unknown) => {
            failed = e instanceof Error ? e : new Error(String(e));
            child.kill();
          },
        );
      });
      child.on('error', reject);
      child.on('close', (code) => {
        if (failed) reject(failed);
        else if (code !== 0) reject(new Error(`${what}: exit ${code}\n${stderr.slice(-2000)}`));
        else if (read.length !== 2) reject(new Error(`${what}: ${read.length} counts read, not 2`));
        else resolve(read);
      });
    });
    return { ir1: totals[0]!, ir2: totals[1]! };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const REFERENCE: Record<string, string> = {
  memory: 'MemoryTransport driven directly through the SPI (same transport, no engine)',
  core: 'the same no-op loopback transport called directly',
};

/**
 * `e2e.instructions_per_msg` of `broker` (memory or core): Carrier's and the SPI side's
 * instructions per message of the end-to-end loop in steady state, one valgrind run per side, both
 * at once (the count does not depend on the load).
 */
export async function instructionFigures(
  broker: string,
  counts: Readonly<Record<'carrier' | 'raw', InstructionCounts>> = DEFAULT_COUNTS,
): Promise<Figure[]> {
  const started = Date.now();
  const [c, r] = await Promise.all([
    count(broker, 'carrier', counts.carrier),
    count(broker, 'raw', counts.raw),
  ]);
  const carrier = perMessage(c.ir1, c.ir2, counts.carrier.n1, counts.carrier.n2);
  const raw = perMessage(r.ir1, r.ir2, counts.raw.n1, counts.raw.n2);
  const describe = (side: 'carrier' | 'raw') =>
    `${side} (Ir(${counts[side].n2}) - Ir(${counts[side].n1})) / ${counts[side].n2 - counts[side].n1} after ${counts[side].warmup}`;
  progress(
    `${broker} instructions: carrier Ir ${c.ir1}/${c.ir2}, raw Ir ${r.ir1}/${r.ir2}, ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  return [
    figure(
      {
        broker,
        figure: 'e2e.instructions_per_msg',
        unit: 'instr/msg',
        higherIsBetter: false,
        reference: REFERENCE[broker] ?? broker,
        note: `valgrind callgrind Ir, instrumentation on only for the counted stretches of one warm run per side: ${describe('carrier')}, ${describe('raw')} warm-up messages; node ${NODE_FLAGS.join(' ')}; a scavenge before each stretch, no GC or compilation in them`,
      },
      [carrier],
      [raw],
    ),
  ];
}

/**
 * The brokers of `npm run bench:core [-- core|memory …]`: the arguments (`core` and `memory` when
 * none), in order, each once.
 * @throws Error for an option or a name other than `core` and `memory`, listing them.
 */
export function instructionBrokers(argv: readonly string[]): string[] {
  const known = Object.keys(REFERENCE);
  let positionals: string[];
  try {
    ({ positionals } = parseArgs({ args: [...argv], strict: true, allowPositionals: true, options: {} }));
  } catch (error) {
    throw new Error(`${(error as Error).message} (usage: npm run bench:core [-- ${known.join('|')} …])`);
  }
  for (const broker of positionals)
    if (!known.includes(broker)) throw new Error(`unknown broker ${broker} (known: ${known.join(', ')})`);
  return positionals.length > 0 ? [...new Set(positionals)] : ['core', 'memory'];
}

/** `npm run bench:core`: the instruction figures of memory and core, printed and kept in bench/results. */
async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const brokers = instructionBrokers(argv);
  if (!valgrindAvailable()) {
    process.stderr.write('valgrind is not installed: run sh bench/scripts/install-valgrind.sh (as root)\n');
    process.exit(2);
  }
  const { gitCommit } = await import('./main.js');
  const startedAt = new Date().toISOString();
  const commit = gitCommit(fileURLToPath(new URL('..', import.meta.url)));
  const cpus = os.cpus();
  const all: Figure[] = [];
  const results: Record<
    string,
    { command: string; finishedAt: string; loadavg: number[]; figures: Figure[] }
  > = {};
  for (const broker of brokers) {
    const figures = await instructionFigures(broker);
    for (const f of figures) process.stdout.write(`${figureLine(f)}\n`);
    all.push(...figures);
    results[broker] = {
      command: `npm run bench:core -- ${broker}`,
      finishedAt: new Date().toISOString(),
      loadavg: os.loadavg(),
      figures,
    };
  }
  const file = writeResults(fileURLToPath(new URL('../results', import.meta.url)), {
    format: 2,
    startedAt,
    command: `npm run bench:core${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
    commit,
    node: process.version,
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      loadavg: os.loadavg(),
    },
    options: { counts: DEFAULT_COUNTS, nodeFlags: NODE_FLAGS, valgrindFlags: VALGRIND_FLAGS },
    brokers: results,
  });
  process.stdout.write(`\n${table(all)}\n`);
  progress(`wrote ${path.relative(process.cwd(), file)}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
