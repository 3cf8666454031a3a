import { createRequire } from 'node:module';
import kafkajs, { type PartitionAssigner } from 'kafkajs';

/**
 * kafkajs has no "partitions revoked" callback: when the group rebalances, the consumer rejoins
 * (and so gives up every partition, eager protocol) as soon as it notices, whatever records its
 * application still handles. Carrier needs the Java client's `onPartitionsRevoked`: hold the
 * rejoin until the records in flight are settled and their offsets committed (a commit with the
 * old generation is accepted while the group prepares the rebalance), bounded by the rebalance
 * timeout.
 *
 * This module provides it by wrapping kafkajs' `ConsumerGroup#joinAndSync` (kafkajs 2.2.x; the
 * method every (re)join goes through) once per process. Consumers opt in through their partition
 * assigner: {@link holdingAssigner} returns the round-robin assigner with a hook attached, and the
 * wrapper awaits the hook of any assigner that has one before it joins. Consumers without such an
 * assigner behave exactly as before.
 */

/** What the hook can do with the kafkajs consumer group while it holds the rejoin. */
export interface RejoinContext {
  /** Null when the coordinator no longer knows the member (its session expired): its lease is gone. */
  readonly memberId: string | null;
  /** Sends a heartbeat (keeps the session alive while holding; the answer is "rebalancing", ignored). */
  heartbeat(): Promise<void>;
}

/** Runs before the consumer (re)joins its group; the rejoin waits until it resolves. */
export type BeforeRejoin = (context: RejoinContext) => Promise<void>;

const HOOK = Symbol.for('carrier.kafka.beforeRejoin');

interface KafkaConsumerGroup {
  memberId: string | null;
  assigners: ({ [HOOK]?: BeforeRejoin } & object)[];
  heartbeat(options: { interval: number }): Promise<void>;
  joinAndSync(): Promise<void>;
}

let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  // the same module instance kafkajs itself uses (CommonJS cache)
  const require = createRequire(import.meta.url);
  const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup') as {
    prototype: KafkaConsumerGroup;
  };
  const original = ConsumerGroup.prototype.joinAndSync;
  if (typeof original !== 'function') throw new Error('kafkajs ConsumerGroup#joinAndSync not found');
  ConsumerGroup.prototype.joinAndSync = async function joinAndSync(this: KafkaConsumerGroup) {
    for (const assigner of this.assigners ?? []) {
      const hook = assigner[HOOK];
      if (!hook) continue;
      await hook({
        memberId: this.memberId,
        heartbeat: () => this.heartbeat({ interval: 0 }),
      });
    }
    return original.call(this);
  };
}

/** kafkajs' round-robin assigner (same protocol name, so members mix freely) carrying `beforeRejoin`. */
export function holdingAssigner(beforeRejoin: BeforeRejoin): PartitionAssigner {
  install();
  return (config) => Object.assign(kafkajs.PartitionAssigners.roundRobin(config), { [HOOK]: beforeRejoin });
}
