import { CarrierError, type ConsumerLag } from '@carrier/core';
import { DeadlineError, withDeadline } from '@carrier/core/kit';
import type { Admin } from 'kafkajs';
import { kafkaError, retrying } from './errors.js';
import { consumerGroupId, retryTopic } from './names.js';

/** What {@link groupLag} reads with. */
export interface LagSettings {
  readonly admin: Admin;
  /** Deadline of the whole reading, in ms (the URL's `requestTimeoutMs`). */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

/** A partition's low and high watermarks (kafkajs reports strings; a number or bigint is read the same). */
export interface PartitionEnds {
  readonly partition: number;
  readonly low: string | number | bigint;
  readonly high: string | number | bigint;
}

/**
 * The lag of a Carrier group: over every partition of the topic and of the group's retry topic
 * (`<topic>..<group>.retry`, which the same consumer group reads), the high watermark minus the
 * group's committed offset (a partition without a commit counts from its low watermark). The
 * committed offset is the first record not settled yet (offsets.ts), so records in flight and
 * retries waiting in the retry topic count, and so may records settled above an unsettled one
 * until it settles too. Dead letters are not counted. The same numbers as
 * `kafka-consumer-groups.sh --describe --group <topic>..<group>`.
 *
 * A group exists once its retry topic does (declare and subscribe create it; with
 * `provisioning=off` its owner does): otherwise `INVALID_ARGUMENT`, without touching offsets.
 */
export async function groupLag(settings: LagSettings, topic: string, group: string): Promise<ConsumerLag> {
  const { admin, timeoutMs, signal } = settings;
  const retry = retryTopic(topic, group);
  const what = `lag of ${topic}/${group}`;
  try {
    const messages = await withDeadline({ what, ms: timeoutMs, signal }, async () => {
      const existing = new Set(await retrying(() => admin.listTopics(), timeoutMs));
      if (!existing.has(topic) || !existing.has(retry))
        throw kafkaError('INVALID_ARGUMENT', `no group ${group} on topic ${topic} (topic ${retry} missing)`);
      const [committed, topicEnds, retryEnds] = await retrying(
        () =>
          Promise.all([
            admin.fetchOffsets({ groupId: consumerGroupId(topic, group), topics: [topic, retry] }),
            admin.fetchTopicOffsets(topic),
            admin.fetchTopicOffsets(retry),
          ]),
        timeoutMs,
      );
      const offsets = new Map(committed.map((t) => [t.topic, t.partitions]));
      return behind(topicEnds, offsets.get(topic)) + behind(retryEnds, offsets.get(retry));
    });
    return { messages, source: 'kafka committed offsets (topic + retry topic)' };
  } catch (cause) {
    if (cause instanceof DeadlineError) throw kafkaError('TIMEOUT', what, cause);
    if (cause instanceof CarrierError) throw cause;
    throw kafkaError('CONNECTION', `cannot read the ${what}`, cause);
  }
}

/**
 * Records between each partition's committed offset (else, no commit or a negative one, its low
 * watermark) and its high watermark, summed over `ends`' partitions.
 */
export function behind(
  ends: readonly PartitionEnds[],
  committed: readonly { partition: number; offset: string | number | bigint }[] | undefined,
): number {
  const at = new Map((committed ?? []).map((p) => [p.partition, Number(p.offset)]));
  let total = 0;
  for (const p of ends) {
    const offset = at.get(p.partition) ?? -1;
    const from = offset >= 0 ? offset : Number(p.low);
    total += Math.max(0, Number(p.high) - from);
  }
  return total;
}
