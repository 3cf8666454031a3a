import { CarrierError, type WireMessage } from '@carrier/core';
import type { Admin, Consumer, ConsumerConfig, Kafka, Message } from 'kafkajs';
import { kafkaError, retrying } from './errors.js';
import type { PartitionEnds } from './lag.js';
import { deadLetterGroupId, deadLetterTopic, retryTopic } from './names.js';
import type { SendResult } from './producer.js';
import { JOIN_TIMEOUT_MS } from './receiver.js';
import { fromRecord, retryHeaders, toRecord } from './wire.js';

/** What a redrive needs of the connection. */
export interface RedriveSettings {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly consumerConfig: Omit<ConsumerConfig, 'groupId'>;
  /** Sends records to a topic (see `Producer.send`). */
  readonly send: (topic: string, records: readonly Message[]) => Promise<SendResult>;
}

/** Per dead-letter partition: the next offset to redrive and the end (exclusive) of this redrive. */
export type Ranges = Map<number, { next: number; high: number }>;

/** A dead letter read for a redrive: where it was and what it holds. */
export interface Taken {
  readonly partition: number;
  readonly offset: number;
  readonly message: WireMessage;
}

/**
 * Moves up to `max` dead letters of `topic`/`group` (those present when the call started, oldest
 * publish first) to the group's retry topic as attempt 1, then commits them as read by the
 * dead-letter group `<topic>..<group>..dlq`; resolves how many were moved. The topics must exist.
 *
 * @throws CarrierError `CONNECTION` when the cluster does not answer, `PUBLISH_FAILED` when the
 *   copies were not confirmed (nothing is committed then: a later redrive moves them again).
 */
export async function redrive(
  settings: RedriveSettings,
  topic: string,
  group: string,
  max: number,
): Promise<number> {
  if (max <= 0) return 0;
  const dlq = deadLetterTopic(topic, group);
  const groupId = deadLetterGroupId(topic, group);
  const todo = await pendingRanges(settings.admin, dlq, groupId).catch((cause: unknown) => {
    throw kafkaError('CONNECTION', `cannot read the dead-letter positions of ${topic}/${group}`, cause);
  });
  if (todo.size === 0) return 0;
  const consumer = settings.kafka.consumer({ ...settings.consumerConfig, groupId });
  try {
    const taken = await take(consumer, dlq, todo, max);
    if (taken.length === 0) return 0;
    const { failed, error } = await settings.send(retryTopic(topic, group), redriveCopies(taken));
    if (failed.length > 0)
      throw kafkaError('PUBLISH_FAILED', `redrive of ${topic}/${group}: copies not confirmed`, error);
    await commitTaken(consumer, dlq, taken);
    return taken.length;
  } catch (cause) {
    if (cause instanceof CarrierError) throw cause;
    throw kafkaError('CONNECTION', `redrive of ${topic}/${group} failed`, cause);
  } finally {
    await consumer.disconnect().catch(() => {});
  }
}

/** The partitions of `dlq` with records past the dead-letter group's committed offset. */
async function pendingRanges(admin: Admin, dlq: string, groupId: string): Promise<Ranges> {
  const [ends, committed] = await retrying(() =>
    Promise.all([admin.fetchTopicOffsets(dlq), admin.fetchOffsets({ groupId, topics: [dlq] })]),
  );
  return rangesToRedrive(ends, committed[0]?.partitions);
}

/**
 * Per dead-letter partition with records past the dead-letter group's committed offset (else, no
 * commit, its low watermark): the range to redrive, up to the high watermark of now.
 */
export function rangesToRedrive(
  ends: readonly PartitionEnds[],
  committed: readonly { partition: number; offset: string | number | bigint }[] | undefined,
): Ranges {
  const done = new Map((committed ?? []).map((p) => [p.partition, Number(p.offset)]));
  const todo: Ranges = new Map();
  for (const p of ends) {
    const position = done.get(p.partition) ?? -1;
    const next = position >= 0 ? position : Number(p.low);
    if (next < Number(p.high)) todo.set(p.partition, { next, high: Number(p.high) });
  }
  return todo;
}

/**
 * Joins the dead-letter group with `consumer` and reads the records of `todo` (at most `max`),
 * until every assigned partition reached its end or {@link JOIN_TIMEOUT_MS} passed. The consumer
 * stays in the group (to commit what was taken).
 */
async function take(consumer: Consumer, dlq: string, todo: Ranges, max: number): Promise<Taken[]> {
  const taken: Taken[] = [];
  let assigned: number[] = [];
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const complete = () =>
    taken.length >= max ||
    assigned.every((p) => (todo.get(p)?.next ?? Number.POSITIVE_INFINITY) >= (todo.get(p)?.high ?? 0));
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    assigned = (event.payload.memberAssignment[dlq] ?? []).filter((p) => todo.has(p));
    if (complete()) finish();
  });
  const deadline = setTimeout(finish, JOIN_TIMEOUT_MS);
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [dlq], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset }) => {
        const range = todo.get(batch.partition);
        if (!range) return;
        for (const record of batch.messages) {
          const offset = Number(record.offset);
          if (taken.length >= max || offset >= range.high) break;
          if (offset < range.next) continue;
          taken.push({
            partition: batch.partition,
            offset,
            message: fromRecord(dlq, batch.partition, record).message,
          });
          range.next = offset + 1;
          resolveOffset(record.offset);
        }
        if (complete()) {
          consumer.pause([{ topic: dlq }]);
          finish();
        }
      },
    });
    await finished;
    return taken;
  } finally {
    clearTimeout(deadline);
  }
}

/** Commits, per partition, the offset after the last record taken. */
async function commitTaken(consumer: Consumer, dlq: string, taken: readonly Taken[]): Promise<void> {
  await consumer.commitOffsets(
    [...positionsAfter(taken)].map(([partition, offset]) => ({
      topic: dlq,
      partition,
      offset: String(offset),
    })),
  );
}

/** Per partition, the offset after the last record taken (what a redrive commits). */
export function positionsAfter(taken: readonly Taken[]): Map<number, number> {
  const positions = new Map<number, number>();
  for (const t of taken) positions.set(t.partition, Math.max(positions.get(t.partition) ?? 0, t.offset + 1));
  return positions;
}

/**
 * The retry-topic records of a redrive: the dead letters `taken`, oldest publish first, each as
 * attempt 1 due now.
 */
export function redriveCopies(taken: readonly Taken[]): Message[] {
  const now = new Date();
  return [...taken]
    .sort((a, b) => a.message.publishedAt.getTime() - b.message.publishedAt.getTime())
    .map((t) => toRecord(t.message, retryHeaders(1, now)));
}
