import type { ConsumeOptions } from './side.js';

/** Everything the CLI can set; one value for every broker in a run. */
export interface BenchOptions {
  readonly brokers: readonly string[];
  /** Messages per round for batches and end to end; undefined: each broker's default. */
  readonly messages: number | undefined;
  /** Messages per round for confirmed single publishes; undefined: min(messages, broker default). */
  readonly single: number | undefined;
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
  /** Parts to skip: `rss`, `ceiling`, `platformatic`, `single`, `batch`, `e2e`, `serial`. */
  readonly skip: ReadonlySet<string>;
  readonly out: string;
}

/** Per broker: messages per round when the CLI does not say (short runs for a shared 2-core machine). */
export const DEFAULT_MESSAGES: Readonly<Record<string, number>> = {
  memory: 100_000,
  core: 100_000,
  kafka: 20_000,
  rabbitmq: 20_000,
  nats: 20_000,
  sqs: 1_000,
};

/** Per broker: most confirmed single publishes per round when the CLI does not say. */
export const DEFAULT_SINGLE: Readonly<Record<string, number>> = {
  memory: 100_000,
  core: 100_000,
  kafka: 2_000,
  rabbitmq: 5_000,
  nats: 5_000,
  sqs: 500,
};
