import type { ConsumeOptions } from './side.js';

/** Everything the CLI can set; one value for every broker in a run. */
export interface BenchOptions {
  readonly brokers: readonly string[];
  /** Messages per round for batches and end to end; undefined: each broker's default. */
  readonly messages: number | undefined;
  /** Messages per round for confirmed single publishes; undefined: min(messages, broker default). */
  readonly single: number | undefined;
  /** Messages per second of the steady-stream latency figure; undefined: each broker's default. */
  readonly rate: number | undefined;
  /** Messages for the serial latency figure. */
  readonly serial: number;
  readonly size: number;
  readonly batch: number;
  readonly inflight: number;
  readonly rounds: number;
  readonly consume: ConsumeOptions;
  /** End to end: published-but-unhandled messages at most before the publisher waits. */
  readonly maxBacklog: number;
  /** Messages fed to the consumer of the memory-boundedness figure. */
  readonly rssMessages: number;
  /** Also compare Carrier with its adapter driven directly through the SPI (core's share of a gap). */
  readonly spi: boolean;
  /**
   * Parts to skip, from `--skip`: `SKIP_PARTS` of main.ts (`single`, `batch`, `e2e`, `steady`,
   * `serial`, `rss`, `ceiling`, `instructions`, `confirmed`, `committed`); others are refused.
   */
  readonly skip: ReadonlySet<string>;
  readonly out: string;
}

/** Measured rounds per side when the CLI does not say: medians of 5 alternating rounds. */
export const DEFAULT_ROUNDS = 5;

/**
 * Per broker: messages per round when the CLI does not say. Sized so a full default run (memory,
 * core and the four brokers; 5 rounds of three sides: Carrier, the raw client and the A/A Carrier)
 * stays around 15–20 minutes on a shared 2-core machine: half of what 3 rounds of two sides used.
 */
export const DEFAULT_MESSAGES: Readonly<Record<string, number>> = {
  memory: 50_000,
  core: 50_000,
  kafka: 10_000,
  rabbitmq: 10_000,
  nats: 10_000,
  sqs: 500,
};

/** Per broker: most confirmed single publishes per round when the CLI does not say. */
export const DEFAULT_SINGLE: Readonly<Record<string, number>> = {
  memory: 50_000,
  core: 50_000,
  kafka: 1_000,
  rabbitmq: 2_500,
  nats: 2_500,
  sqs: 250,
};
