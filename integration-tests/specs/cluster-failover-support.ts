import { freshName } from '@carrier/contract';
import { type Carrier, CarrierError, connect } from '@carrier/core';
import type { Cluster, ClusterBroker, ClusterNode } from '../src/cluster.js';
import { History, type Report, report } from '../src/history/index.js';
import { log, seconds } from '../src/util.js';

// Failover on a three-node cluster (issue 20, "Proof"): two groups handle a keyed stream of
// messages while the leader of what the topic lives on (Kafka: the topic's partition 0; RabbitMQ:
// the first group's quorum queue; NATS: the topic's stream) is killed with -9 and restarted, or
// paused (SIGSTOP) and resumed. The publisher retries what failed (`PUBLISH_FAILED` entries) or
// ended without an answer (any other error: unknown outcome) as a user would, and the history
// checker (src/history/) reports lost, phantom, duplicates, per-key order and unavailability.
// Used by specs/cluster.failover.spec.ts (CI: 5,000 messages, one kill) and
// soak/cluster.failover.soak.spec.ts (20,000 messages, two kills; the pause).

const GROUPS = ['audit', 'billing'] as const;
/** Messages per publishBatch; batches are paced (PACE_MS apart at the fastest) so that publishing spans the faults. */
const BATCH = 50;
const PACE_MS = 250;
const KEYS = 97;
/** Wait before re-publishing after an unknown outcome (a user's back-off). */
const RETRY_BACKOFF_MS = 250;
const PAUSE_MS = 30_000;

/** A fault and where (fraction of confirmed publishes) it starts. */
export interface Fault {
  readonly kind: 'kill' | 'pause';
  readonly at: number;
}

/** The URL Carrier connects with: replicated topics (Kafka RF 3, min ISR 2; quorum queues are RabbitMQ's default; NATS R3). */
export function carrierUrl(broker: ClusterBroker, cluster: Cluster): string {
  switch (broker) {
    case 'kafka':
      return `${cluster.url}?replicationFactor=3&minInsyncReplicas=2`;
    case 'rabbitmq':
      return cluster.url;
    case 'nats':
      return `${cluster.url}?replicas=3`;
  }
}

/** Whether the transport promises per-key order for the groups of this run (RabbitMQ: with `ordered: true`). */
const ORDERED: Record<ClusterBroker, boolean> = { kafka: true, rabbitmq: true, nats: false };

/** What `leaderOf` is asked for: the replicated thing the topic's messages live on. */
function leaderTarget(broker: ClusterBroker, topic: string): string {
  switch (broker) {
    case 'kafka':
      return `${topic}:0`;
    case 'rabbitmq':
      return `carrier:${topic}:${GROUPS[0]}`;
    case 'nats':
      // topicStream(): `CARRIER_<escaped topic>`; fresh names here have no `_` or `.` to escape
      return `CARRIER_${topic}`;
  }
}

export interface FaultRecord {
  readonly kind: Fault['kind'];
  readonly node: string;
  /** Seconds from the fault until the broker named a new leader on another node. */
  readonly newLeaderS: number;
  /** Seconds from the fault until the cluster was healthy again (node restarted/resumed and caught up). */
  readonly healthyS: number;
}

export interface FailoverResult {
  readonly broker: ClusterBroker;
  readonly total: number;
  readonly report: Report;
  /** Publish errors by code (PUBLISH_FAILED, TIMEOUT, CONNECTION, …), counted per failed publishBatch call. */
  readonly publishErrors: Record<string, number>;
  /** Errors reported to the consumers' and publisher's `onError`, by code. */
  readonly asyncErrors: Record<string, number>;
  readonly faults: readonly FaultRecord[];
  /** Longest single publishBatch call (ms), success or failure: the latency a user saw. */
  readonly slowestPublishMs: number;
  readonly ms: number;
}

function codeOf(error: unknown): string {
  return error instanceof CarrierError ? error.code : error instanceof Error ? error.name : 'unknown';
}

function bump(counts: Record<string, number>, code: string): void {
  counts[code] = (counts[code] ?? 0) + 1;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One run on `cluster` (healthy, all three nodes up). Fails when nothing new is handled for
 * `stallMs` after publishing ended (naming what is missing), or when publishing takes longer than
 * `publishDeadlineMs`.
 */
export async function runClusterFailover(options: {
  readonly broker: ClusterBroker;
  readonly cluster: Cluster;
  readonly total: number;
  readonly faults: readonly Fault[];
  readonly stallMs: number;
  readonly publishDeadlineMs: number;
}): Promise<FailoverResult> {
  const { broker, cluster, total, faults, stallMs, publishDeadlineMs } = options;
  const started = Date.now();
  const url = carrierUrl(broker, cluster);
  const ordered = ORDERED[broker];
  const topic = freshName('failover');
  const history = new History({ groups: [...GROUPS] });
  const handled = new Map<string, Set<string>>(GROUPS.map((g) => [g, new Set<string>()]));
  const asyncErrors: Record<string, number> = {};
  const publishErrors: Record<string, number> = {};
  const carriers: Carrier[] = [];
  const open = async () => {
    const c = await connect(url, { onError: (e) => bump(asyncErrors, codeOf(e)) });
    carriers.push(c);
    return c;
  };
  try {
    const publisher = await open();
    await publisher.declare(topic, [...GROUPS], ordered && broker === 'rabbitmq' ? { ordered: true } : {});
    for (const group of GROUPS) {
      const consumer = await open();
      await consumer.subscribe(
        topic,
        { group, concurrency: 8, ...(ordered && broker === 'rabbitmq' ? { ordered: true } : {}) },
        (m) => {
          history.handled({ group, member: group, id: m.id, key: m.key ?? '', attempt: m.attempt });
          handled.get(group)!.add(m.id);
        },
      );
    }

    const confirmed = new Set<string>();
    let slowestPublishMs = 0;
    const publishAll = async () => {
      for (let start = 0; start < total; start += BATCH) {
        const paced = sleep(PACE_MS);
        let entries = Array.from({ length: Math.min(BATCH, total - start) }, (_, i) => ({
          id: `m-${start + i}`,
          key: `k-${(start + i) % KEYS}`,
          body: { n: start + i },
        }));
        while (entries.length > 0) {
          if (Date.now() - started > publishDeadlineMs)
            throw new Error(
              `${broker}: publishing not done after ${seconds(publishDeadlineMs)} s: ${confirmed.size} of ${total} confirmed`,
            );
          const batch = entries;
          const t0 = Date.now();
          try {
            await history.track(batch, () => publisher.publishBatch(topic, batch));
            for (const e of batch) confirmed.add(e.id);
            entries = [];
          } catch (error) {
            bump(publishErrors, codeOf(error));
            if (
              error instanceof CarrierError &&
              error.code === 'PUBLISH_FAILED' &&
              error.failures.length > 0
            ) {
              const failed = new Set(error.failures.map((f) => f.id));
              for (const e of batch) if (!failed.has(e.id)) confirmed.add(e.id);
              entries = batch.filter((e) => failed.has(e.id));
            } else if (error instanceof CarrierError && error.code === 'CLOSED') {
              throw error;
            }
            // unknown outcome (or failed entries): publish the same messages again after a back-off
            await sleep(RETRY_BACKOFF_MS);
          } finally {
            slowestPublishMs = Math.max(slowestPublishMs, Date.now() - t0);
          }
        }
        await paced;
      }
    };

    const records: FaultRecord[] = [];
    const runFaults = async () => {
      const target = leaderTarget(broker, topic);
      for (const fault of faults) {
        // the leader is looked up ahead (rabbitmqctl takes seconds under load), the fault strikes on time
        await cluster.waitHealthy();
        const leader: ClusterNode = await cluster.leaderOf(target);
        while (confirmed.size < Math.floor(total * fault.at)) await sleep(50);
        const t0 = Date.now();
        log(`[cluster failover] ${broker}: ${fault.kind} ${leader.name} at ${confirmed.size} confirmed`);
        let newLeaderS: number;
        if (fault.kind === 'kill') {
          await cluster.kill(leader);
          await cluster.leaderOf(target, { notOn: leader, timeoutMs: 120_000 });
          newLeaderS = (Date.now() - t0) / 1000;
          await cluster.start(leader);
        } else {
          cluster.pause(leader);
          try {
            await cluster.leaderOf(target, { notOn: leader, timeoutMs: 120_000 });
            newLeaderS = (Date.now() - t0) / 1000;
            const left = PAUSE_MS - (Date.now() - t0);
            if (left > 0) await sleep(left); // the fault itself: the node stays hung for 30 s
          } finally {
            cluster.resume(leader);
          }
        }
        await cluster.waitHealthy();
        const record = {
          kind: fault.kind,
          node: leader.name,
          newLeaderS,
          healthyS: (Date.now() - t0) / 1000,
        };
        records.push(record);
        log(
          `[cluster failover] ${broker}: ${fault.kind} of ${leader.name}: new leader after ${record.newLeaderS.toFixed(1)} s, ` +
            `healthy again after ${record.healthyS.toFixed(1)} s`,
        );
      }
    };

    // both run at once; a failing fault step must not leave the publisher running unobserved
    const [published, faulted] = await Promise.allSettled([publishAll(), runFaults()]);
    if (published.status === 'rejected') throw published.reason;
    if (faulted.status === 'rejected') throw faulted.reason;
    log(
      `[cluster failover] ${broker}: publishing done, ${confirmed.size} confirmed after ${seconds(Date.now() - started)} s`,
    );

    // every confirmed message handled by both groups, or no progress for stallMs
    let last = -1;
    let lastAt = Date.now();
    for (;;) {
      const missing = GROUPS.flatMap((g) =>
        [...confirmed].filter((id) => !handled.get(g)!.has(id)).map((id) => `${g}/${id}`),
      );
      if (missing.length === 0) break;
      const progress = GROUPS.reduce((n, g) => n + handled.get(g)!.size, 0);
      if (progress !== last) {
        last = progress;
        lastAt = Date.now();
      } else if (Date.now() - lastAt > stallMs) {
        const error = new Error(
          `${broker}: nothing new handled for ${seconds(stallMs)} s; ${missing.length} confirmed deliveries missing, ` +
            `e.g. ${missing.slice(0, 20).join(', ')}; ${report(history, { order: ordered }).summary}`,
        );
        log(`[cluster failover] ${error.message}`);
        throw error;
      }
      await sleep(200);
    }
    return {
      broker,
      total,
      report: report(history, { order: ordered }),
      publishErrors,
      asyncErrors,
      faults: records,
      slowestPublishMs,
      ms: Date.now() - started,
    };
  } finally {
    await Promise.allSettled(carriers.map((c) => c.close()));
  }
}

function counts(c: Record<string, number>): string {
  const entries = Object.entries(c);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ${v}`).join(', ');
}

/** One greppable line: `[cluster failover] <broker>: …`. */
export function describeFailover(r: FailoverResult, label = 'cluster failover'): string {
  const faults = r.faults
    .map(
      (f) =>
        `${f.kind} ${f.node} (new leader ${f.newLeaderS.toFixed(1)} s, healthy ${f.healthyS.toFixed(1)} s)`,
    )
    .join(', ');
  return (
    `[${label}] ${r.broker}: ${r.total} messages in ${seconds(r.ms)} s; faults: ${faults}; ` +
    `publish errors: ${counts(r.publishErrors)}; async errors: ${counts(r.asyncErrors)}; ` +
    `slowest publish ${r.slowestPublishMs} ms; ${r.report.summary}`
  );
}
