import { afterAll, describe, expect, it } from 'vitest';
import '../src/context.js';
import { describeFailover, type Fault, runClusterFailover } from '../specs/cluster-failover-support.js';
import { type Cluster, type ClusterBroker, startCluster } from '../src/cluster.js';
import { expectClean } from '../src/history/index.js';
import { log, seconds } from '../src/util.js';

// Failover on three-node clusters (issue 20, full form; `npm run soak -- cluster.failover`): per
// broker, 20,000 keyed messages to two groups (concurrency 8) while the leader is killed with -9
// at a third and restarted and the new leader is killed at two thirds and restarted; then the same
// with the leader paused (SIGSTOP) for 30 s at a third and resumed. Nothing lost and nothing
// phantom in either group, per-key order intact where promised; duplicates, errors and
// unavailability printed as `[cluster failover soak] <broker>: …`. One cluster at a time.

const BROKERS = ['kafka', 'rabbitmq', 'nats'] as const;
const CASES: [ClusterBroker, string, Fault[]][] = [
  ...BROKERS.map((b): [ClusterBroker, string, Fault[]] => [
    b,
    'kill -9 of the leader at 1/3 and of the new leader at 2/3',
    [
      { kind: 'kill', at: 1 / 3 },
      { kind: 'kill', at: 2 / 3 },
    ],
  ]),
  ...BROKERS.map((b): [ClusterBroker, string, Fault[]] => [
    b,
    'the leader paused for 30 s at 1/3',
    [{ kind: 'pause', at: 1 / 3 }],
  ]),
];

let cluster: Cluster | undefined;

afterAll(async () => {
  await cluster?.close();
}, 120_000);

describe('cluster failover (soak)', () => {
  it.each(CASES)(
    '%s: both groups handle every confirmed message of 20000 through %s',
    async (broker, _what, faults) => {
      const t0 = Date.now();
      cluster = await startCluster(broker);
      try {
        log(`[cluster failover soak] ${broker}: cluster healthy after ${seconds(Date.now() - t0)} s`);
        const result = await runClusterFailover({
          broker,
          cluster,
          total: 20_000,
          faults,
          stallMs: 180_000,
          publishDeadlineMs: 1_800_000,
        });
        log(describeFailover(result, 'cluster failover soak'));
        expectClean(result.report, { order: result.report.ordered });
        expect(result.report.publishes.neverConfirmed).toEqual([]);
      } finally {
        await cluster.close();
        cluster = undefined;
        log(`[cluster failover soak] ${broker}: done in ${seconds(Date.now() - t0)} s`);
      }
    },
  );
});
