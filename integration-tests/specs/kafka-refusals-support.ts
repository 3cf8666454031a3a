import { freshName, waitFor } from '@carrier/contract';
import { type Carrier, CarrierError, connect, isPermanentPublishError } from '@carrier/core';
import kafkajs, { type PartitionAssigner } from 'kafkajs';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { kafkaBrokers } from '../src/urls.js';

// What both Kafka drivers say when Kafka refuses a setting for good (adapter-kafka's refusals.ts, the
// one mapping both use): the broker's error by name, the value that caused it, a code that is not
// CONNECTION. Run for kafkajs by kafka.refusals.spec.ts and for @platformatic/kafka by
// kafka-platformatic.refusals.spec.ts, on the run's single broker (group.min.session.timeout.ms is
// Kafka's default, 6000).

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<CarrierError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CarrierError);
  return error as CarrierError;
}

/** Topic names on the broker, read with a plain kafkajs admin. */
async function existingTopics(): Promise<string[]> {
  const admin = new kafkajs.Kafka({
    brokers: kafkaBrokers(inject('brokers').kafka),
    logLevel: kafkajs.logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    return await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
}

/** kafkajs' round-robin assigner under another protocol name: members of Carrier's groups cannot agree with it. */
const otherAssigner: PartitionAssigner = (config) => {
  const roundRobin = kafkajs.PartitionAssigners.roundRobin(config);
  return {
    ...roundRobin,
    name: 'CarrierSpecOtherAssigner',
    protocol: (subscription) => ({ ...roundRobin.protocol(subscription), name: 'CarrierSpecOtherAssigner' }),
  };
};

export function describeKafkaRefusals(client: 'kafkajs' | 'platformatic'): void {
  describe(`kafka (${client}) refusals that trying again cannot mend`, () => {
    const open: Carrier[] = [];
    const cleanups: (() => Promise<unknown>)[] = [];
    afterEach(async () => {
      await Promise.allSettled([
        ...open.splice(0).map((c) => c.close()),
        ...cleanups.splice(0).map((f) => f()),
      ]);
    });

    const url = (query = '') => `${inject('brokers').kafka}?client=${client}${query}`;
    async function carrier(query = ''): Promise<Carrier> {
      const c = await connect(url(query));
      open.push(c);
      return c;
    }

    it('a group join with sessionTimeoutMs=1000 is refused with INVALID_ARGUMENT naming INVALID_SESSION_TIMEOUT and the value', {
      timeout: 60_000,
    }, async () => {
      const c = await carrier('&sessionTimeoutMs=1000');
      const topic = freshName('refused-session');
      const error = await rejection(c.subscribe(topic, { group: 'billing' }, async () => {}));
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toContain(
        `Kafka refused the group join of ${topic}..billing: INVALID_SESSION_TIMEOUT`,
      );
      expect(error.message).toContain('sessionTimeoutMs=1000 is outside');
      expect(error.message).not.toContain('not initialized');
    });

    it('a topic created with a replication factor above the broker count is refused with TOPOLOGY_CONFLICT naming INVALID_REPLICATION_FACTOR', {
      timeout: 60_000,
    }, async () => {
      const c = await carrier('&replicationFactor=2');
      const topic = freshName('refused-rf');
      const published = await rejection(c.publish(topic, 'x'));
      expect(published.code).toBe('TOPOLOGY_CONFLICT');
      expect(published.message).toContain(
        `Kafka refused the creation of topic ${topic}: INVALID_REPLICATION_FACTOR (replicationFactor=2 is more than the cluster's available brokers`,
      );
      // a forwarder (bridge, outbox relay) retries it instead of dead-lettering the message
      expect(isPermanentPublishError(published)).toBe(false);
      const subscribed = await rejection(c.subscribe(topic, { group: 'billing' }, async () => {}));
      expect(subscribed.code).toBe('TOPOLOGY_CONFLICT');
      expect(subscribed.message).toContain('INVALID_REPLICATION_FACTOR');
      expect(await existingTopics()).not.toContain(topic);
    });

    it('a group join into a group whose members use another assignor is refused with TOPOLOGY_CONFLICT naming INCONSISTENT_GROUP_PROTOCOL', {
      timeout: 60_000,
    }, async () => {
      const topic = freshName('refused-protocol');
      await (await carrier()).declare(topic, ['billing']);
      const other = new kafkajs.Kafka({
        brokers: kafkaBrokers(inject('brokers').kafka),
        logLevel: kafkajs.logLevel.NOTHING,
      }).consumer({ groupId: `${topic}..billing`, partitionAssigners: [otherAssigner] });
      cleanups.push(() => other.disconnect());
      let joined = false;
      other.on(other.events.GROUP_JOIN, () => {
        joined = true;
      });
      await other.connect();
      await other.subscribe({ topics: [topic] });
      await other.run({ eachMessage: async () => {} });
      await waitFor(() => joined, 30_000, 'the other member to join');
      const c = await carrier();
      const error = await rejection(c.subscribe(topic, { group: 'billing' }, async () => {}));
      expect(error.code).toBe('TOPOLOGY_CONFLICT');
      expect(error.message).toContain(
        `Kafka refused the group join of ${topic}..billing: INCONSISTENT_GROUP_PROTOCOL`,
      );
    });

    it('provisioning=off creates nothing and fails publish and subscribe on a missing topic with TOPOLOGY_CONFLICT', {
      timeout: 60_000,
    }, async () => {
      const c = await carrier('&provisioning=off');
      const topic = freshName('noprov');
      const published = await rejection(c.publish(topic, 'x'));
      expect(published.code).toBe('TOPOLOGY_CONFLICT');
      expect(published.message).toContain(`topic ${topic} does not exist and provisioning is off`);
      const subscribed = await rejection(c.subscribe(topic, { group: 'billing' }, async () => {}));
      expect(subscribed.code).toBe('TOPOLOGY_CONFLICT');
      expect(subscribed.message).toContain('does not exist and provisioning is off');
      expect((await existingTopics()).filter((t) => t.startsWith(topic))).toEqual([]);
    });

    it('heartbeatIntervalMs at or above sessionTimeoutMs is refused at connect with INVALID_ARGUMENT naming both', async () => {
      const error = await rejection(connect(url('&sessionTimeoutMs=6000&heartbeatIntervalMs=6000')));
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toContain('heartbeatIntervalMs (6000) must be less than sessionTimeoutMs (6000)');
    });
  });
}
