import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import amqp from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, type ClusterBroker, startCluster } from '../src/cluster.js';
import { kafkaBrokers, natsServers } from '../src/urls.js';
import { log, pollUntil, seconds } from '../src/util.js';

// The three-node cluster harness itself (src/cluster.ts): each broker's cluster forms with three
// members that the broker reports, the leader of a replicated queue/partition/stream is found
// through the broker's API, a leader killed with -9 is replaced and the restarted node rejoins,
// and a paused (SIGSTOP) leader is replaced and rejoins when resumed. One cluster at a time: the
// describe blocks of a file run one after the other, and each closes its cluster in afterAll.
// Run one broker with `-t kafka` / `-t rabbitmq` / `-t nats`.

const fresh = (prefix: string) => `${prefix}_${randomUUID().slice(0, 8)}`;

/** Creates a replicated target (RF 3 / 3 replicas) on the cluster and returns its name for leaderOf. */
const CREATE: Record<ClusterBroker, (cluster: Cluster) => Promise<string>> = {
  async kafka(cluster) {
    const topic = fresh('cluster-harness');
    const admin = new Kafka({ brokers: kafkaBrokers(cluster.url), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [{ topic, numPartitions: 1, replicationFactor: 3 }],
        waitForLeaders: true,
      });
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(topics[0]?.partitions[0]?.replicas).toHaveLength(3);
    } finally {
      await admin.disconnect();
    }
    return topic;
  },
  async rabbitmq(cluster) {
    const queue = fresh('cluster-harness');
    const conn = await amqp.connect(cluster.nodes[0]!.url);
    try {
      const ch = await conn.createChannel();
      await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      await ch.close();
    } finally {
      await conn.close();
    }
    return queue;
  },
  async nats(cluster) {
    const stream = fresh('CLUSTER');
    const nc = await natsConnect({ servers: natsServers(cluster.url) });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], num_replicas: 3 });
      expect((info.cluster?.replicas ?? []).length + 1).toBe(3);
    } finally {
      await nc.close();
    }
    return stream;
  },
};

describe.each(['kafka', 'rabbitmq', 'nats'] as const)(
  '%s three-node cluster',
  (broker) => {
    let cluster: Cluster;
    let target: string;

    beforeAll(async () => {
      const t0 = Date.now();
      cluster = await startCluster(broker);
      log(`[cluster-harness] ${broker}: cluster healthy after ${seconds(Date.now() - t0)} s`);
      target = await CREATE[broker](cluster);
    }, 300_000);

    afterAll(async () => {
      await cluster?.close();
    });

    it('forms with three members that the broker reports, and a URL naming all three', async () => {
      expect((await cluster.members()).sort()).toEqual(cluster.nodes.map((n) => n.name).sort());
      for (const node of cluster.nodes) {
        expect(cluster.url).toContain(new URL(node.url.replace(/^\w+:/, 'http:')).host);
      }
    });

    it('finds the leader, elects a new one after kill -9 of the leader, and the restarted node rejoins', async () => {
      const leader = await cluster.leaderOf(target);
      await cluster.kill(leader);
      expect(leader.isRunning()).toBe(false);
      const t0 = Date.now();
      const next = await cluster.leaderOf(target, { notOn: leader, timeoutMs: 60_000 });
      log(
        `[cluster-harness] ${broker}: new leader ${next.name} found ${seconds(Date.now() - t0)} s after kill -9 of ${leader.name}`,
      );
      expect(next).not.toBe(leader);
      // the broker's view of its members lags (NATS: a meta peer stays "current" for some seconds)
      const t2 = Date.now();
      await pollUntil(`${broker}: ${leader.name} gone from the members`, 60_000, async () => {
        const members = await cluster.members();
        if (members.includes(leader.name)) throw new Error(`members: ${members.join(', ')}`);
      });
      log(`[cluster-harness] ${broker}: ${leader.name} left the members ${seconds(Date.now() - t2)} s later`);

      const t1 = Date.now();
      await cluster.start(leader);
      await cluster.waitHealthy();
      log(
        `[cluster-harness] ${broker}: ${leader.name} restarted and rejoined in ${seconds(Date.now() - t1)} s`,
      );
      expect((await cluster.members()).sort()).toEqual(cluster.nodes.map((n) => n.name).sort());
    });

    it('elects a new leader while the leader is paused (SIGSTOP), and the node rejoins when resumed', async () => {
      const leader = await cluster.leaderOf(target);
      cluster.pause(leader);
      expect(leader.isPaused()).toBe(true);
      try {
        const t0 = Date.now();
        const next = await cluster.leaderOf(target, { notOn: leader, timeoutMs: 90_000 });
        log(
          `[cluster-harness] ${broker}: new leader ${next.name} found ${seconds(Date.now() - t0)} s after pausing ${leader.name}`,
        );
      } finally {
        cluster.resume(leader);
      }
      const t1 = Date.now();
      await cluster.waitHealthy();
      log(`[cluster-harness] ${broker}: ${leader.name} resumed and healthy in ${seconds(Date.now() - t1)} s`);
      expect((await cluster.members()).sort()).toEqual(cluster.nodes.map((n) => n.name).sort());
    });
  },
  300_000,
);
