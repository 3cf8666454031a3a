/**
 * `npm run bench:doc`: regenerate the tables of docs/benchmarks.md from bench/results/*.json.
 *
 * Only runs whose commit is an ancestor of HEAD count (`git merge-base --is-ancestor`): figures of
 * code no longer on the branch are dropped, and so are results files without a commit (before
 * format 2). The doc keeps its hand-written prose; what lies between
 * `<!-- generated:<region> -->` and `<!-- /generated -->` is replaced:
 * - `results`: the current table, for every (broker, figure) the latest run's value, with the A/A
 *   band, the "within noise" mark, the goal of issue 21 met or not, and the command that reproduces it;
 * - `history`: how the headline figures moved, one line per figure per run, oldest first; a line
 *   whose figure's `note` differs from the line above is marked `(method changed)`.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bandText, type Figure, formatValue, type RunResults } from './report.js';

/** A goal of issue 21 on the paired Carrier/raw ratio of one figure. */
export interface Goal {
  readonly brokers: readonly string[];
  /** Figure name without a `.vs-<client>` suffix (goals are against each broker's first raw client). */
  readonly figure: string;
  /** `min`: ratio ≥ value (throughput); `max`: ratio ≤ value (latency). */
  readonly kind: 'min' | 'max';
  readonly value: number;
}

const TRANSPORTS = ['memory', 'core', 'kafka', 'kafka-platformatic', 'rabbitmq', 'nats', 'sqs'];
const BROKERS = ['kafka', 'kafka-platformatic', 'rabbitmq', 'nats', 'sqs'];

/** The goals of issue 21. */
export const GOALS: readonly Goal[] = [
  { brokers: ['core'], figure: 'e2e.msgs_per_s', kind: 'min', value: 0.8 },
  { brokers: ['memory'], figure: 'e2e.msgs_per_s', kind: 'min', value: 0.6 },
  // "Carrier's own p50 under a steady stream": e2e-steady (below saturation); e2e's p50 at
  // saturation is the slower side's queue, set by the throughput figures' own goals
  { brokers: TRANSPORTS, figure: 'e2e-steady.p50_ms', kind: 'max', value: 2 },
  ...['e2e.msgs_per_s', 'publish-batch.msgs_per_s', 'publish-single.msgs_per_s'].map(
    (figure): Goal => ({ brokers: BROKERS, figure, kind: 'min', value: 0.9 }),
  ),
];

/** Figures "how it moved" follows. */
const HEADLINE = /\.(msgs_per_s|p50_ms|instructions_per_msg)$/;

/** The goal of a figure, if any. */
export function goalOf(broker: string, figure: string): Goal | undefined {
  return GOALS.find((g) => g.figure === figure && g.brokers.includes(broker));
}

/** `met`, `**not met**`, or `` when the figure has no goal; judged on the paired ratio. */
export function goalText(broker: string, f: Figure): string {
  const goal = goalOf(broker, f.figure);
  if (!goal) return '';
  const met = goal.kind === 'min' ? f.pairedRatio >= goal.value : f.pairedRatio <= goal.value;
  // Two identical sides disagreed by a factor within [low, high] in this run: the paired ratio is
  // then consistent with anything in [paired / high, paired / low]. When the goal's bound lies in
  // that range, this run cannot tell met from not met.
  const undecided =
    f.aa !== undefined && f.pairedRatio / f.aa.high <= goal.value && goal.value <= f.pairedRatio / f.aa.low;
  const verdict = `${met ? 'met' : '**not met**'}${undecided ? ' (bound within noise)' : ''}`;
  return `${goal.kind === 'min' ? '≥' : '≤'} ${goal.value}: ${verdict}`;
}

/** One figure of one run. */
interface Row {
  readonly run: RunResults;
  readonly broker: string;
  readonly command: string;
  readonly figure: Figure;
}

function rows(runs: readonly RunResults[]): Row[] {
  return [...runs]
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt))
    .flatMap((run) =>
      Object.entries(run.brokers).flatMap(([broker, b]) =>
        b.figures.map((figure) => ({ run, broker, command: b.command, figure })),
      ),
    );
}

function when(run: RunResults): string {
  const commit = run.commit ? `${run.commit.short}${run.commit.dirty ? '+' : ''}` : '?';
  return `${run.startedAt.slice(0, 16).replace('T', ' ')} ${commit}`;
}

function aaCells(f: Figure): [string, string] {
  if (!f.aa) return ['–', ''];
  return [`${f.aa.ratio.toFixed(2)} (${bandText(f.aa)})`, f.aa.withinNoise ? 'yes' : 'no'];
}

/**
 * The `results` region: the latest value of every (broker, figure) of `runs` (runs already
 * restricted to the branch), in the order of the latest run per broker.
 */
export function renderCurrent(runs: readonly RunResults[]): string {
  const latest = new Map<string, Row>();
  for (const row of rows(runs)) latest.set(`${row.broker} ${row.figure.figure}`, row);
  if (latest.size === 0) return '_No results of a commit on this branch in bench/results/._';
  const lines = [
    '| broker | figure | unit | Carrier | raw | Carrier/raw | paired | A/A (band) | within noise | goal | run |',
    '|---|---|---|--:|--:|--:|--:|--:|:-:|---|---|',
  ];
  const commands = new Map<string, string>();
  for (const { run, broker, figure: f, command } of latest.values()) {
    const [aa, noise] = aaCells(f);
    const key = `${when(run)}`;
    commands.set(`${broker}, run ${key}`, command);
    lines.push(
      `| ${broker} | ${f.figure} | ${f.unit} | ${formatValue(f.carrier.median)} | ${formatValue(f.raw.median)} | ${f.ratio.toFixed(2)} | ${f.pairedRatio.toFixed(2)} | ${aa} | ${noise} | ${goalText(broker, f)} | ${key} |`,
    );
  }
  lines.push('', "Each row reproduces with its run's command:", '');
  for (const [key, command] of commands) lines.push(`- ${key}: \`${command}\``);
  return lines.join('\n');
}

/** The `history` region: every headline figure of every run, oldest first, grouped by figure. */
export function renderHistory(runs: readonly RunResults[]): string {
  const byFigure = new Map<string, Row[]>();
  for (const row of rows(runs)) {
    if (!HEADLINE.test(row.figure.figure)) continue;
    const key = `${row.broker} ${row.figure.figure}`;
    byFigure.set(key, [...(byFigure.get(key) ?? []), row]);
  }
  if (byFigure.size === 0) return '_No runs yet._';
  const lines = [
    '| broker | figure | run | Carrier | raw | paired | A/A (band) | within noise | goal |',
    '|---|---|---|--:|--:|--:|--:|:-:|---|',
  ];
  for (const list of byFigure.values())
    list.forEach(({ run, broker, figure: f }, i) => {
      const [aa, noise] = aaCells(f);
      // a different note means the figure was taken another way: not comparable with the line above
      const changed = i > 0 && (list[i - 1]!.figure.note ?? '') !== (f.note ?? '') ? ' (method changed)' : '';
      lines.push(
        `| ${broker} | ${f.figure} | ${when(run)}${changed} | ${formatValue(f.carrier.median)} | ${formatValue(f.raw.median)} | ${f.pairedRatio.toFixed(2)} | ${aa} | ${noise} | ${goalText(broker, f)} |`,
      );
    });
  return lines.join('\n');
}

/**
 * `doc` with the content between `<!-- generated:<name> -->` and the next `<!-- /generated -->`
 * replaced by `regions[name]`; throws when a region's markers are missing.
 */
export function replaceRegions(doc: string, regions: Readonly<Record<string, string>>): string {
  let out = doc;
  for (const [name, body] of Object.entries(regions)) {
    const open = `<!-- generated:${name} -->`;
    const start = out.indexOf(open);
    const end = start < 0 ? -1 : out.indexOf('<!-- /generated -->', start);
    if (start < 0 || end < 0) throw new Error(`no ${open} … <!-- /generated --> region in the document`);
    out = `${out.slice(0, start + open.length)}\n${body}\n${out.slice(end)}`;
  }
  return out;
}

/** Format-2 results files of `dir` (older files, without a commit, are skipped). */
export function readRuns(dir: string): RunResults[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as RunResults)
    .filter((r) => r.format === 2 && r.commit !== undefined);
}

/** Whether `sha` is an ancestor of (or equal to) HEAD in `cwd`'s repository. */
export function onBranch(sha: string, cwd: string): boolean {
  try {
    execFileSync('git', ['merge-base', '--is-ancestor', sha, 'HEAD'], { cwd, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function main(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const docFile = path.join(root, 'docs/benchmarks.md');
  const all = readRuns(path.join(root, 'bench/results'));
  const runs = all.filter((r) => onBranch(r.commit!.sha, root));
  const doc = readFileSync(docFile, 'utf8');
  writeFileSync(docFile, replaceRegions(doc, { results: renderCurrent(runs), history: renderHistory(runs) }));
  process.stderr.write(
    `docs/benchmarks.md: ${runs.length} run(s) on this branch, ${all.length - runs.length} dropped (commit not an ancestor of HEAD)\n`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main();
