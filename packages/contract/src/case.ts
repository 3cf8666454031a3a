import type { Capabilities, Carrier, ConnectOptions, TransportFactory } from '@carrier/core';
import type { SchemaRegistry } from '@carrier/schema';

/** Sizes of a run: `quick` for every `npm test`, `full` with the peer suites' volumes. */
export type ContractProfile = 'quick' | 'full';

/** What the suite's sizes are in one profile. */
export interface ContractSizes {
  /** Members of one group on one connection in the "many members" case (≥ 10). */
  readonly members: number;
  /** Topics on one connection in the "many topics" case (≥ 10). */
  readonly topics: number;
  /** Subscribe/close rounds of one group. */
  readonly rounds: number;
  /** Keyed messages of the per-key order case across several members. */
  readonly orderedMessages: number;
  /** Messages of the volume case (full profile only: ≥ 5 000). */
  readonly volume: number;
}

/** The sizes of each profile. */
export const PROFILE_SIZES: Readonly<Record<ContractProfile, ContractSizes>> = {
  quick: { members: 10, topics: 10, rounds: 3, orderedMessages: 120, volume: 0 },
  full: { members: 30, topics: 30, rounds: 20, orderedMessages: 5_000, volume: 5_000 },
};

/**
 * What the transport does with a message published to a topic that has no group at all (no group
 * ever subscribed or was declared). Each transport documents one outcome (docs/concepts.md, "Topics
 * and groups"):
 * - `dropped`: `publish` resolves and no group created later receives it (memory, NATS interest
 *   streams, SNS, Kafka — where the log keeps it but a new group starts at the end);
 * - `kept`: `publish` resolves and the first group created later receives it (SQS queue-only mode);
 * - `refused`: `publish` rejects with `PUBLISH_FAILED` (RabbitMQ: unroutable).
 */
export type PublishWithoutGroup = 'dropped' | 'kept' | 'refused';

/**
 * A broker of the suite's own that the reconnect case may stop and start again: a private
 * instance (its own ports and data), never one that other tests or runs use at the same time.
 */
export interface RestartableBroker {
  /**
   * The URL to `connect()` to this broker with, the same before and after a restart. Called when
   * the case runs, so a spec may start the broker then (and only for that case).
   */
  url(): string | Promise<string>;
  /**
   * Stop the broker and start it again on the same address with the same data; resolves once it
   * answers again.
   */
  restart(): Promise<void>;
  /**
   * The broker keeps its topics, groups and acknowledged messages across a restart (a durable
   * store). False: the reconnect case is skipped with that reason.
   */
  readonly persistsAcrossRestart: boolean;
}
/** A setting fixed when a group is created (see `TransportContractOptions.recordsGroupSettings`). */
export type GroupSetting = 'startFrom' | 'ordered';

/** How to reach the transport under test, and what the suite cannot read from `capabilities`. */
export interface TransportContractOptions {
  /** Shown in test names, e.g. `memory`, `kafka`. */
  name: string;
  /** URL for `connect()`; or a function returning it (evaluated when a test runs). */
  url?: string | (() => string);
  /**
   * The transport factory to connect `url` with, instead of resolving the URL's scheme (a
   * third-party transport that core does not know). Cases that wrap the transport use it too.
   */
  transport?: TransportFactory;
  /**
   * Custom way to open a new, independent connection (overrides `url`). Cases that wrap the
   * transport (they need `url`) are then skipped with that reason.
   */
  connect?: () => Promise<Carrier>;
  /** Capabilities the transport must declare; each listed field is asserted. */
  capabilities?: Partial<Capabilities>;
  /** Deadline of each wait, in ms (default 20 000). Slow brokers (Kafka rebalances) want more. */
  timeoutMs?: number;
  /**
   * The transport charges an attempt for a delivery given back with `release()`: a documented
   * exception to the rule (SQS FIFO queues, where a give-back copy would lose its place in its
   * message group). The release case then expects attempt 2 for released deliveries instead of 1.
   * Default false.
   */
  releaseChargesAttempt?: boolean;
  /**
   * The transport's documented outcome of a publish to a topic without any group. Absent: the
   * case "publishing to a topic with no group" is skipped with that reason.
   */
  publishWithoutGroup?: PublishWithoutGroup;
  /**
   * The broker may deliver a message twice on its own, with no failure Carrier could report (SQS
   * standard queues, docs/concepts.md "Duplicates and attempts"). Cases that count duplicates then
   * report them instead of failing on those no `LEASE_LOST` / `SETTLE_FAILED` explains. Default false.
   */
  duplicatesWithoutFailure?: boolean;
  /**
   * A private broker the reconnect case may restart. Absent (a transport without a broker, or a
   * harness that cannot give one): that case is skipped with that reason.
   */
  broker?: RestartableBroker;
  /**
   * What the broker records of how a group was created, so that asking an existing group for
   * another setting is `TOPOLOGY_CONFLICT`: `startFrom` (NATS: the consumer's `deliver_policy`),
   * `ordered` (RabbitMQ: the queue's `x-single-active-consumer`). The conflict case of a setting
   * not listed is skipped with that reason (Kafka records neither: docs/brokers/kafka.md).
   */
  recordsGroupSettings?: readonly GroupSetting[];
  /**
   * The schema registry the schema cases register and look up their schemas in: called once per
   * case, so a client may be made per case. Default: a new `EmbeddedRegistry` (from
   * `@carrier/schema`, in memory) per case. A broker's spec passes a `ConfluentRegistryClient` on a
   * real registry server, so the cases run against it. Each case uses fresh topics, hence fresh
   * subjects, and sets the compatibility level of the subjects it evolves itself.
   */
  schemaRegistry?: () => SchemaRegistry;
  /** Run only the cases with these names (the others are reported as skipped, "not selected"). */
  only?: readonly string[];
  /**
   * Skip these cases: names, or name → reason (the reason is shown in the test report and in the
   * conformance table). An unknown name fails the suite, so a renamed case is never skipped silently.
   */
  skip?: readonly string[] | Readonly<Record<string, string>>;
  /** Profile (default: `CARRIER_CONTRACT_PROFILE`, else `quick`). */
  profile?: ContractProfile;
}

/**
 * What a case needs to apply; the runner checks it and reports the case as skipped with the reason
 * when it does not hold. Capability needs are read from the connected transport's `capabilities`.
 */
export type CaseNeed =
  | 'fanOut'
  | 'competingConsumers'
  | 'perKeyOrder'
  | 'redrive'
  | 'replay'
  /** `capabilities.requestReply`: `carrier.request` and `message.reply` work. */
  | 'requestReply'
  /** `capabilities.lag`: `carrier.lag` tells a group's lag. */
  | 'lag'
  /** `recordsGroupSettings` lists `startFrom`. */
  | 'startFromRecorded'
  /** `recordsGroupSettings` lists `ordered`. */
  | 'orderedRecorded'
  /** `url` (not only `connect`): the case wraps the transport to watch deliveries and settlements. */
  | 'url'
  /** `url` (not only `connect`): the case connects with its own `ConnectOptions` (say `telemetry`). */
  | 'connectOptions'
  /** The full profile (`CARRIER_CONTRACT_PROFILE=full`). */
  | 'fullProfile'
  /** `publishWithoutGroup` declared in the options. */
  | 'publishWithoutGroup'
  /** `capabilities.maxPublishDelayMs` above 0: the transport has delayed publish. */
  | 'delayedPublish'
  /** `broker` given in the options, and it keeps its state across a restart. */
  | 'restartableBroker';

/** What a case gets to run with. Every function is bound, so a case may destructure it. */
export interface CaseContext {
  readonly options: TransportContractOptions;
  readonly profile: ContractProfile;
  readonly sizes: ContractSizes;
  /** Deadline of each wait, in ms. */
  readonly timeoutMs: number;
  /**
   * A new, independent connection; closed after the case. `connectOptions` (say `onError`) apply
   * when the suite connects by `url`; a custom `connect` ignores them.
   */
  carrier(connectOptions?: Omit<ConnectOptions, 'transport'>): Promise<Carrier>;
  /**
   * A new connection to `url` (with the options' `transport` factory, if any); closed after the
   * case. For a case that connects elsewhere than `url`, e.g. to `broker.url()`.
   */
  carrierAt(url: string, connectOptions?: Omit<ConnectOptions, 'transport'>): Promise<Carrier>;
  /**
   * A new connection whose transport is `wrap(the transport's factory)` (needs `url`: declare
   * `needs: ['url']`). Closed after the case.
   */
  carrierWrapped(
    wrap: (factory: TransportFactory) => TransportFactory,
    connectOptions?: Omit<ConnectOptions, 'transport'>,
  ): Promise<Carrier>;
  /**
   * The case's schema registry: the options' `schemaRegistry()`, else a new `EmbeddedRegistry`;
   * made on the first call, the same one on every later call of the case.
   */
  schemaRegistry(): SchemaRegistry;
  /** Poll `condition` every 10 ms until it holds; fail naming `what` after `timeoutMs`. */
  until(condition: () => boolean, what: string): Promise<void>;
  /** Skip the rest of the case with `reason` when `condition` holds (reported, never silent). */
  skip(condition: boolean, reason: string): void;
  /** Add a line to the case's report (test annotation, and the conformance table's note). */
  note(text: string): Promise<void>;
}

/** One named conformance case. */
export interface ContractCase {
  /** Unique, stable: the test name, and the key of `only` / `skip`. */
  readonly name: string;
  /** The theme it belongs to (its file, and the `describe` block it is registered in). */
  readonly theme: string;
  /** What it needs to apply; absent: applies to every transport. */
  readonly needs?: readonly CaseNeed[];
  /** Its vitest timeout in multiples of `timeoutMs` (default 4). */
  readonly timeouts?: number;
  run(context: CaseContext): Promise<void>;
}
