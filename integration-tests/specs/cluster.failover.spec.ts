import { afterAll, describe, expect, it } from 'vitest';
import '../src/context.js';
import { type Cluster, type ClusterBroker, startCluster } from '../src/cluster.js';
import { expectClean } from '../src/history/index.js';
import { log, seconds } from '../src/util.js';
import { describeFailover, runClusterFailover } from './cluster-failover-support.js';

// Failover on three-node clusters (issue 20, CI form): per broker, 5,000 keyed messages to two
// groups (concurrency 8) while the leader of the topic's partition / the group's quorum queue /
// the stream is killed with -9 at a third and restarted. Nothing lost and nothing phantom in
// either group, per-key order intact where the transport promises it (Kafka; RabbitMQ `ordered`);
// duplicates, errors and unavailability printed as `[cluster failover] <broker>: …`. One cluster
// at a time: the tests of this file run one after the other, each starting and closing its
// cluster. Run one broker with `-t kafka` / `-t rabbitmq` / `-t nats`. Full form: soak/.

let cluster: Cluster | undefined;

afterAll(async () => {
  await cluster?.close();
}, 120_000);

describe('cluster failover', () => {
  it.each(['kafka', 'rabbitmq', 'nats'] as const)(
    '%s: both groups handle every confirmed message of 5000 through kill -9 of the leader',
    async (broker: ClusterBroker) => {
      const t0 = Date.now();
      cluster = await startCluster(broker);
      try {
        log(`[cluster failover] ${broker}: cluster healthy after ${seconds(Date.now() - t0)} s`);
        const result = await runClusterFailover({
          broker,
          cluster,
          total: 5_000,
          faults: [{ kind: 'kill', at: 1 / 3 }],
          stallMs: 120_000,
          publishDeadlineMs: 480_000,
        });
        log(describeFailover(result));
        expectClean(result.report, { order: result.report.ordered });
        expect(result.report.publishes.neverConfirmed).toEqual([]);
      } finally {
        await cluster.close();
        cluster = undefined;
        log(
          `[cluster failover] ${broker}: done in ${seconds(Date.now() - t0)} s (cluster start and close included)`,
        );
      }
    },
    900_000,
  );
});
