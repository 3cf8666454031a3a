import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pairedRatio, type Sample, summarize } from './stats.js';

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
}

/** Build a figure from the paired rounds of both sides. */
export function figure(
  fields: Omit<Figure, 'carrier' | 'raw' | 'ratio' | 'pairedRatio'>,
  carrier: readonly number[],
  raw: readonly number[],
): Figure {
  const c = summarize(carrier);
  const r = summarize(raw);
  return {
    ...fields,
    carrier: c,
    raw: r,
    ratio: r.median === 0 ? Number.NaN : c.median / r.median,
    pairedRatio: pairedRatio(carrier, raw),
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

/** The machine-readable line: `<broker> <figure> carrier=<v> raw=<v> ratio=<r>`. */
export function figureLine(f: Figure): string {
  return `${f.broker} ${f.figure} carrier=${formatValue(f.carrier.median)} raw=${formatValue(f.raw.median)} ratio=${f.ratio.toFixed(3)}`;
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
 * (above 1/0.9 for lower-is-better figures) is marked with `!`.
 */
export function table(figures: readonly Figure[]): string {
  const header = ['broker', 'figure', 'unit', 'carrier', 'spread', 'raw', 'spread', 'carrier/raw', 'paired'];
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
      f.pairedRatio.toFixed(2),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const lines = [
    pad(header, widths),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map((r) => pad(r, widths)),
  ];
  return lines.join('\n');
}

/** What a results file holds, besides the figures. */
export interface RunInfo {
  readonly startedAt: string;
  readonly command: string;
  readonly node: string;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryGiB: number;
    readonly loadavg: number[];
  };
  readonly options: Readonly<Record<string, unknown>>;
}

/**
 * Write `<dir>/<YYYY-MM-DD>-<broker>.json` (characters other than letters, digits, `_` and `-` in
 * the broker's name become `-`: `otel:nats` → `…-otel-nats.json`); returns its path.
 */
export function writeResults(
  dir: string,
  broker: string,
  info: RunInfo,
  figures: readonly Figure[],
  extra: unknown,
): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(
    dir,
    `${info.startedAt.slice(0, 10)}-${broker.replace(/[^A-Za-z0-9_-]/g, '-')}.json`,
  );
  writeFileSync(file, `${JSON.stringify({ broker, ...info, figures, extra }, null, 2)}\n`);
  return file;
}
