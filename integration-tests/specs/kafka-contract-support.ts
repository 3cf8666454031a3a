import type { TransportContractOptions } from '@carrier/contract';

// What both Kafka drivers' contract specs (kafka.contract.spec.ts: kafkajs;
// kafka-platformatic.contract.spec.ts: @platformatic/kafka) expect: the same capabilities and the
// same skips, so that a difference between the drivers shows as a failing case.

/** The capabilities a Kafka transport states, whichever driver. */
export const KAFKA_CONTRACT_CAPABILITIES: TransportContractOptions['capabilities'] = {
  lag: true,
  fanOut: true,
  competingConsumers: true,
  perKeyOrder: true,
  nativeDelay: false,
  redrive: true,
  // delayed publish through the delay topic and its movers (docs/brokers/kafka.md)
  maxPublishDelayMs: 7 * 24 * 3_600_000,
  maxNativePublishDelayMs: 0,
  publishDelayPrecisionMs: 1_100,
  replay: true,
  requestReply: true,
};

/** Cases Kafka cannot pass, whichever driver, with the reason. */
export const KAFKA_CONTRACT_SKIP: TransportContractOptions['skip'] = {
  'asking an existing group for another start is TOPOLOGY_CONFLICT':
    'Kafka records nothing of how a group was created: only committed offsets, whose metadata every commit rewrites (docs/brokers/kafka.md, "Where a new group starts")',
};

/**
 * The group timeouts of the contract specs: the crash cases wait for the group to give up a member
 * that died without leaving, and shorter timeouts than the defaults keep them fast —
 * `sessionTimeoutMs=6000` (the broker's minimum) and `rebalanceTimeoutMs=10000` (a revoked
 * partition waits up to 7 s for its handlers, far longer than any handler of the suite).
 */
export const KAFKA_CONTRACT_QUERY = 'sessionTimeoutMs=6000&rebalanceTimeoutMs=10000';
