import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type NoiseBand, noiseBand, pairedRatio, type Sample, summarize, withinNoise } from './stats.js';

/** One measured figure: Carrier's rounds against a reference's rounds, measured alternately. */
export interface Figure {
  /** `memory`, `core`, `kafka`, `rabbitmq`, `nats`, `sqs`, `otel`, `otel:<broker>`, `outbox:<broker>`, `codecs`. */
  readonly broker: string;
  /** Figure name without spaces, e.g. `publish-single.msgs_per_s` (a suffix `.vs-<client>` names a second reference). */
  readonly figure: string;
  /** Unit of the values, e.g. `msg/s`, `MB/s`, `ms`, `ns/msg`, `MB`. */
  readonly unit: string;
  /** Whether a larger value is better (throughput) or worse (latency, memory, overhead). */
  readonly higherIsBetter: boolean;
  readonly carrier: Sample;
  readonly raw: Sample;
  /** carrier / raw: the ratio of the two medians (what the line and table show). */
  readonly ratio: number;
  /**
   * Median of the per-round ratios (round i of Carrier against round i of the raw side, measured
   * back to back): robust to load that drifts between rounds. Far from `ratio` means the machine's
   * load changed during the run.
   */
  readonly pairedRatio: number;
  /** What the `raw` side was (`kafkajs 2.2.4 producer acks=-1 idempotent`, …). */
  readonly reference: string;
  /** What limits this figure or how it was taken. */
  readonly note?: string | undefined;
  /**
   * The A/A calibration of this figure: a second, independent Carrier side (`carrier-b`, its own
   * connection, same settings) measured in the same rotation of rounds. Absent when the figure had
   * no second Carrier side (ceilings, rss, codecs, otel, outbox).
   */
  readonly aa?: AaCalibration | undefined;
}

/** {@link Figure.aa}: the A/A band and whether the figure's paired ratio lies inside it. */
export interface AaCalibration extends NoiseBand {
  /** carrier-b's rounds. */
  readonly carrierB: Sample;
  /** `pairedRatio` lies inside `[low, high]` (see `withinNoise` in stats.ts). */
  readonly withinNoise: boolean;
}

/** Build a figure from the paired rounds of both sides. */
export function figure(
  fields: Omit<Figure, 'carrier' | 'raw' | 'ratio' | 'pairedRatio' | 'aa'>,
  carrier: readonly number[],
  raw: readonly number[],
  carrierB?: readonly number[],
): Figure {
  const c = summarize(carrier);
  const r = summarize(raw);
  const paired = pairedRatio(carrier, raw);
  const band = carrierB && carrierB.length > 0 ? noiseBand(carrier, carrierB) : undefined;
  return {
    ...fields,
    carrier: c,
    raw: r,
    ratio: r.median === 0 ? Number.NaN : c.median / r.median,
    pairedRatio: paired,
    ...(band && carrierB
      ? { aa: { ...band, carrierB: summarize(carrierB), withinNoise: withinNoise(paired, band) } }
      : {}),
  };
}

/** A number for a stdout line: up to 4 significant digits, no exponent for ordinary magnitudes. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return String(Math.round(value));
  if (abs === 0) return '0';
  return String(Number(value.toPrecision(4)));
}

/** `0.93..1.07`: an A/A band. */
export function bandText(aa: NoiseBand): string {
  return `${aa.low.toFixed(2)}..${aa.high.toFixed(2)}`;
}

/**
 * The machine-readable line: `<broker> <figure> carrier=<v> raw=<v> ratio=<r>`, then, when the
 * figure has an A/A calibration, ` paired=<r> aa=<median A/A> aa_band=<low>..<high> noise=<yes|no>`
 * (`noise=yes`: the paired ratio is within the A/A band).
 */
export function figureLine(f: Figure): string {
  const head = `${f.broker} ${f.figure} carrier=${formatValue(f.carrier.median)} raw=${formatValue(f.raw.median)} ratio=${f.ratio.toFixed(3)}`;
  if (!f.aa) return head;
  return `${head} paired=${f.pairedRatio.toFixed(3)} aa=${f.aa.ratio.toFixed(3)} aa_band=${bandText(f.aa)} noise=${f.aa.withinNoise ? 'yes' : 'no'}`;
}

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

function spreadText(s: Sample): string {
  return `±${(s.spread * 50).toFixed(0)}%`;
}

/**
 * The human table: one row per figure with both medians, their spread (half the min–max range
 * relative to the median), the ratio of the medians and the paired ratio; a ratio worse than 0.9×
 * (above 1/0.9 for lower-is-better figures) is marked with `!`. Then the A/A calibration: the median
 * A/A ratio and its band, and `~` after the paired ratio when it is within that band (noise).
 */
export function table(figures: readonly Figure[]): string {
  const header = [
    'broker',
    'figure',
    'unit',
    'carrier',
    'spread',
    'raw',
    'spread',
    'carrier/raw',
    'paired',
    'A/A',
    'A/A band',
  ];
  const rows = figures.map((f) => {
    const slow = f.higherIsBetter ? f.ratio < 0.9 : f.ratio > 1 / 0.9;
    return [
      f.broker,
      f.figure,
      f.unit,
      formatValue(f.carrier.median),
      spreadText(f.carrier),
      formatValue(f.raw.median),
      spreadText(f.raw),
      `${f.ratio.toFixed(2)}${slow ? ' !' : '  '}`,
      `${f.pairedRatio.toFixed(2)}${f.aa?.withinNoise ? ' ~' : '  '}`,
      f.aa ? f.aa.ratio.toFixed(2) : '-',
      f.aa ? bandText(f.aa) : '-',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const lines = [
    pad(header, widths),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map((r) => pad(r, widths)),
  ];
  if (figures.some((f) => f.aa))
    lines.push(
      '',
      '! worse than 0.9x the raw side; ~ paired ratio within the A/A band (Carrier against a second Carrier, same run): noise',
    );
  return lines.join('\n');
}

/** The commit a run measured: `git rev-parse HEAD` and whether tracked files differed from it. */
export interface CommitInfo {
  readonly sha: string;
  readonly short: string;
  /** Tracked files had uncommitted changes (untracked files are not counted). */
  readonly dirty: boolean;
}

/** What a results file holds, besides the brokers' figures. */
export interface RunInfo {
  readonly startedAt: string;
  /** The whole run's command line. */
  readonly command: string;
  /** Undefined when git is not available (a tarball). */
  readonly commit: CommitInfo | undefined;
  readonly node: string;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryGiB: number;
    readonly loadavg: number[];
  };
  readonly options: Readonly<Record<string, unknown>>;
}

/** One broker's part of a run. */
export interface BrokerResults {
  /** The command that reproduces this broker's figures alone. */
  readonly command: string;
  readonly finishedAt: string;
  /** Load average when this broker's part ended. */
  readonly loadavg: number[];
  readonly figures: readonly Figure[];
  readonly extra?: unknown;
}

/** A results file (format 2): one per run, every broker of the run. */
export interface RunResults extends RunInfo {
  readonly format: 2;
  readonly brokers: Readonly<Record<string, BrokerResults>>;
}

/** `2026-12-01T10-07-11Z-324fc53.json`: the run's start (UTC, seconds) and its commit. */
export function resultsFileName(info: Pick<RunInfo, 'startedAt' | 'commit'>): string {
  const at = `${info.startedAt.slice(0, 19).replace(/:/g, '-')}Z`;
  return `${at}-${info.commit?.short ?? 'nogit'}.json`;
}

/**
 * Write (or rewrite, as brokers finish) the run's file `<dir>/<resultsFileName>`; returns its path.
 * Written after every broker, so a run that fails half way keeps what it measured.
 */
export function writeResults(dir: string, run: RunResults): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, resultsFileName(run));
  writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
  return file;
}
