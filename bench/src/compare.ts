import type { Measurement, ScenarioSettings } from './measure.js';
import { type Figure, figure } from './report.js';
import type { Side } from './side.js';
import { rotation } from './stats.js';

/** How one result key of a scenario becomes a figure. */
export interface FigureSpec {
  readonly key: string;
  readonly unit: string;
  readonly higherIsBetter: boolean;
}

/** A measured scenario: what to run on each side and which of its results to report. */
export interface Scenario {
  /** Figure prefix, e.g. `publish-single`. */
  readonly name: string;
  readonly run: (
    side: Side,
    topic: string,
    group: string,
    settings: ScenarioSettings,
  ) => Promise<Measurement>;
  readonly settings: ScenarioSettings;
  readonly figures: readonly FigureSpec[];
  /** Messages for the untimed warm-up run of each side (JIT, connections, metadata). */
  readonly warmup: number;
}

export const THROUGHPUT: readonly FigureSpec[] = [
  { key: 'msgs_per_s', unit: 'msg/s', higherIsBetter: true },
  { key: 'mb_per_s', unit: 'MB/s', higherIsBetter: true },
];
export const LATENCY: readonly FigureSpec[] = [
  { key: 'p50_ms', unit: 'ms', higherIsBetter: false },
  { key: 'p95_ms', unit: 'ms', higherIsBetter: false },
  { key: 'p99_ms', unit: 'ms', higherIsBetter: false },
];

let topicCounter = 0;

/** A fresh portable topic name, never reused (runs never see each other's messages). */
export function freshTopic(runId: string, scenario: string, side: string): string {
  topicCounter++;
  return `bench.${runId}.${scenario}.${side.replace(/[^A-Za-z0-9_-]/g, '-')}.${topicCounter}`;
}

let groupCounter = 0;

/** A fresh group name, never reused (with a fresh topic, a group no earlier round has touched). */
export function freshGroup(side: string): string {
  groupCounter++;
  return `bench-${side.replace(/[^A-Za-z0-9_-]/g, '-')}-${groupCounter}`;
}

/** stderr progress, so stdout stays the figure lines and the table. */
export function progress(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

/**
 * Run a scenario on both sides in this process: warm-up of each side, then `rounds` rounds, each
 * side once per round on a fresh topic. When the Carrier side has a {@link Side.twin} (and `aa` is
 * not false), every round also runs that second Carrier (`carrier-b`): the A/A calibration. The
 * order within a round rotates from round to round (carrier, raw, carrier-b; then raw, carrier-b,
 * carrier; …) so no side always runs first. Returns one figure per reported key with the medians,
 * spreads, the paired ratio and the A/A band.
 */
export async function compare(options: {
  readonly broker: string;
  readonly runId: string;
  readonly carrier: Side;
  readonly raw: Side;
  readonly reference: string;
  readonly scenario: Scenario;
  readonly rounds: number;
  /** Appended to figure names, e.g. `.vs-platformatic` for a second reference client. */
  readonly suffix?: string;
  readonly note?: string;
  /** A fresh group name for every run too (default: group `bench` on every fresh topic). */
  readonly freshGroups?: boolean;
  /** Measure the A/A side when the Carrier side has one (default true). */
  readonly aa?: boolean;
}): Promise<Figure[]> {
  const { broker, runId, carrier, raw, scenario, rounds } = options;
  const twin = options.aa === false ? undefined : await carrier.twin?.();
  const group = (side: Side) => (options.freshGroups ? freshGroup(side.label) : 'bench');
  type Which = 'carrier' | 'raw' | 'carrierB';
  const sides: [Which, Side][] = [
    ['carrier', carrier],
    ['raw', raw],
  ];
  if (twin) sides.push(['carrierB', twin]);
  if (scenario.warmup > 0) {
    const warm = { ...scenario.settings, messages: scenario.warmup };
    for (const [, side] of sides)
      await scenario.run(side, freshTopic(runId, scenario.name, side.label), group(side), warm);
  }
  const results: Record<Which, Measurement[]> = { carrier: [], raw: [], carrierB: [] };
  for (let round = 1; round <= rounds; round++) {
    for (const [which, side] of rotation(sides, round)) {
      const m = await scenario.run(
        side,
        freshTopic(runId, scenario.name, side.label),
        group(side),
        scenario.settings,
      );
      results[which].push(m);
      const shown = scenario.figures.map((f) => `${f.key}=${m[f.key]?.toFixed(2)}`).join(' ');
      progress(`${broker} ${scenario.name} round ${round}/${rounds} ${side.label}: ${shown}`);
    }
  }
  const values = (which: Which, key: string) => results[which].map((m) => m[key] ?? Number.NaN);
  return scenario.figures.map((spec) =>
    figure(
      {
        broker,
        figure: `${scenario.name}.${spec.key}${options.suffix ?? ''}`,
        unit: spec.unit,
        higherIsBetter: spec.higherIsBetter,
        reference: options.reference,
        note: options.note,
      },
      values('carrier', spec.key),
      values('raw', spec.key),
      twin ? values('carrierB', spec.key) : undefined,
    ),
  );
}
