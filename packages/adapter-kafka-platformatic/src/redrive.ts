import {
  deadLetterGroupId,
  deadLetterTopic,
  fromRecord,
  JOIN_TIMEOUT_MS,
  kafkaError,
  positionsAfter,
  type Ranges,
  rangesToRedrive,
  redriveCopies,
  retryTopic,
  type Taken,
  type WrittenRecord,
} from '@carrier/adapter-kafka/driver-kit';
import { CarrierError } from '@carrier/core';
import { Consumer, type ConsumerGroupJoinPayload, type Message } from '@platformatic/kafka';
import type { ClientOptions } from './client-options.js';
import { GroupOffsets } from './group-offsets.js';
import type { SendResult } from './producer.js';
import { toRead } from './records.js';
import type { AdminTopology } from './topology.js';

/** What a redrive needs of the connection. */
export interface RedriveSettings {
  readonly client: ClientOptions;
  readonly topology: AdminTopology;
  /** Group timings of the URL (the redriving member joins the dead-letter group). */
  readonly timings: {
    readonly sessionTimeoutMs: number;
    readonly heartbeatIntervalMs: number;
    readonly rebalanceTimeoutMs: number;
    readonly maxWaitTimeMs: number;
  };
  /** Sends records to a topic (see `Producer.send`). */
  readonly send: (topic: string, records: readonly WrittenRecord[]) => Promise<SendResult>;
}

/**
 * As the kafkajs driver's `redrive` (adapter-kafka's redrive.ts), on @platformatic/kafka: moves up
 * to `max` dead letters of `topic`/`group` (those present when the call started, oldest publish
 * first) to the group's retry topic as attempt 1, then commits them as read by the dead-letter
 * group `<topic>..<group>..dlq`, as a member of it; resolves how many were moved.
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
  const { topology } = settings;
  let todo: Ranges;
  try {
    const [ends, committed] = await Promise.all([topology.ends(dlq), topology.committed(groupId, [dlq])]);
    todo = rangesToRedrive(ends, committed.get(dlq));
  } catch (cause) {
    throw kafkaError('CONNECTION', `cannot read the dead-letter positions of ${topic}/${group}`, cause);
  }
  if (todo.size === 0) return 0;
  const { timings } = settings;
  const consumer = new Consumer({
    ...settings.client,
    groupId,
    sessionTimeout: timings.sessionTimeoutMs,
    heartbeatInterval: timings.heartbeatIntervalMs,
    rebalanceTimeout: timings.rebalanceTimeoutMs,
    maxWaitTime: timings.maxWaitTimeMs,
    autocommit: false,
    autocreateTopics: false,
  });
  consumer.on('error', () => {}); // a failed rejoin is emitted as 'error': the redrive fails by its deadline
  const offsets = new GroupOffsets(consumer, settings.client);
  try {
    const taken = await take(consumer, dlq, todo, max, timings.maxWaitTimeMs);
    if (taken.length === 0) return 0;
    const { failed, error } = await settings.send(retryTopic(topic, group), redriveCopies(taken));
    if (failed.length > 0)
      throw kafkaError('PUBLISH_FAILED', `redrive of ${topic}/${group}: copies not confirmed`, error);
    await offsets.commit(
      [...positionsAfter(taken)].map(([partition, offset]) => ({
        topic: dlq,
        partition,
        offset: String(offset),
      })),
    );
    return taken.length;
  } catch (cause) {
    if (cause instanceof CarrierError) throw cause;
    throw kafkaError('CONNECTION', `redrive of ${topic}/${group} failed`, cause);
  } finally {
    await offsets.close();
    await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
  }
}

/**
 * Joins the dead-letter group with `consumer` and reads the records of `todo` (at most `max`),
 * until every assigned partition reached its end or {@link JOIN_TIMEOUT_MS} passed. The consumer
 * stays in the group (to commit what was taken); its messages stream is closed.
 */
async function take(
  consumer: Consumer,
  dlq: string,
  todo: Ranges,
  max: number,
  maxWaitTimeMs: number,
): Promise<Taken[]> {
  const taken: Taken[] = [];
  let assigned: number[] | undefined;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const complete = () =>
    assigned !== undefined &&
    (taken.length >= max ||
      assigned.every((p) => (todo.get(p)?.next ?? Number.POSITIVE_INFINITY) >= (todo.get(p)?.high ?? 0)));
  consumer.on('consumer:group:join', (payload: ConsumerGroupJoinPayload) => {
    const mine = (payload.assignments ?? []).find((a) => a.topic === dlq)?.partitions ?? [];
    assigned = mine.filter((p) => todo.has(p));
    if (complete()) finish();
  });
  const deadline = setTimeout(finish, JOIN_TIMEOUT_MS);
  try {
    const stream = await consumer.consume({
      topics: [dlq],
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: false,
      maxWaitTime: maxWaitTimeMs,
    });
    stream.on('error', () => {}); // read errors: the deadline ends the redrive with what was taken
    stream.on('data', (message: Message<Buffer, Buffer, Buffer, Buffer>) => {
      const range = todo.get(message.partition);
      const offset = Number(message.offset);
      if (!range || taken.length >= max || offset >= range.high || offset < range.next) return;
      taken.push({
        partition: message.partition,
        offset,
        message: fromRecord(dlq, message.partition, toRead(message)).message,
      });
      range.next = offset + 1;
      if (complete()) finish();
    });
    await finished;
    await stream.close().catch(() => {});
    return taken;
  } finally {
    clearTimeout(deadline);
  }
}
