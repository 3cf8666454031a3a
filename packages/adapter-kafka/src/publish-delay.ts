import type { WireMessage } from '@carrier/core';
import { DELIVER_AT_HEADER, formatDeliverAt, parseDeliverAt, publishFailed } from '@carrier/core/kit';
import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import { TRANSPORT } from './errors.js';
import type { SendResult } from './producer.js';
import { HEADERS, toRecord } from './wire.js';

/**
 * Delayed publish on Kafka, which has no delay of its own: a message due later is written to the
 * topic's delay topic `<topic>..delay` and moved to the topic when due by a mover (a consumer
 * group of the delay topic, `<topic>..delay..mover`, see `delay-mover.ts`).
 *
 * A partition that holds messages with different due times would make each wait behind the
 * latest one before it, so the delay topic's partitions are levels of a ladder: partition k ≥ 1
 * holds messages with a remaining delay in [2^(k−1), 2^k) × {@link DELAY_UNIT_MS} for exactly
 * 2^(k−1) units (the record's `carrier-due-at`, set when written); every record of a partition
 * waits the same time, so they fall due in the order they were written and the mover pauses the
 * partition until its head is due. When it is, the mover writes the message again to the level of
 * what remains (each level at most once, highest first: the binary digits of the delay), and to
 * the topic itself once its `carrier-deliver-at` has passed. Partition 0 holds the last remainder
 * (under one unit) until the due time itself: there a message waits at most one unit behind
 * another. So a message is never early and late by at most one unit plus the mover's work.
 */

/** Unit of the ladder, ms: the head-of-line wait in partition 0 is under this. */
export const DELAY_UNIT_MS = 100;
/** Partitions (levels) of a delay topic Carrier creates: level 23 covers up to 2^23 units (9.7 days). */
export const DELAY_LEVELS = 24;

/** The level (partition) for a remaining delay of `remainingMs`, among `partitions` partitions. */
export function delayLevel(remainingMs: number, partitions: number): number {
  if (remainingMs < DELAY_UNIT_MS) return 0;
  const level = Math.floor(Math.log2(remainingMs / DELAY_UNIT_MS)) + 1;
  return Math.max(0, Math.min(level, partitions - 1));
}

/**
 * Until when (ms since the epoch) a record written at `now` to `level` stays there: level 0 until
 * the due time, level k ≥ 1 for 2^(k−1) units (never past the due time: a topic created with fewer
 * partitions clamps levels down).
 */
export function holdUntil(level: number, deliverAtMs: number, now: number): number {
  if (level === 0) return deliverAtMs;
  return Math.min(deliverAtMs, now + 2 ** (level - 1) * DELAY_UNIT_MS);
}

/** The delay-topic record of `record` (a message due at `deliverAtMs`) written at `now`. */
function ladderRecord(record: Message, deliverAtMs: number, now: number, partitions: number): Message {
  const level = delayLevel(deliverAtMs - now, partitions);
  return {
    ...record,
    partition: level,
    headers: {
      ...record.headers,
      [DELIVER_AT_HEADER]: formatDeliverAt(new Date(deliverAtMs)),
      [HEADERS.dueAt]: new Date(holdUntil(level, deliverAtMs, now)).toISOString(),
    },
    // the delay topic's retention counts from the time it was written here
    timestamp: String(now),
  };
}

/** Writes records to one topic (the producer's `send`). */
export type Send = (topic: string, records: readonly Message[]) => Promise<SendResult>;

/**
 * Publishes `messages` to `topic`: those due later (`deliverAt`) to the delay topic
 * `delayTopicName` (which has `partitions` partitions) on the level of their remaining delay, the
 * others to the topic. Resolves once Kafka confirmed every one.
 *
 * @throws CarrierError `PUBLISH_FAILED` whose `failures` name the messages not confirmed.
 */
export async function publishWithDelays(
  send: Send,
  topic: string,
  delayTopicName: string,
  partitions: number,
  messages: readonly WireMessage[],
): Promise<void> {
  const now = Date.now();
  const due = (m: WireMessage) =>
    m.deliverAt !== undefined && m.deliverAt.getTime() > now ? m.deliverAt : undefined;
  const immediate: number[] = [];
  const delayed: number[] = [];
  for (const [i, m] of messages.entries()) (due(m) ? delayed : immediate).push(i);
  const failures: [number, unknown][] = [];
  for (const [to, indexes] of [
    [topic, immediate],
    [delayTopicName, delayed],
  ] as const) {
    if (indexes.length === 0) continue;
    const records = indexes.map((i) => {
      const message = messages[i]!;
      const at = due(message);
      return at ? ladderRecord(toRecord(message), at.getTime(), now, partitions) : toRecord(message);
    });
    const { failed, error } = await send(to, records);
    for (const f of failed) failures.push([indexes[f]!, error]);
  }
  if (failures.length > 0) throw publishFailed(TRANSPORT, topic, messages, failures);
}

/** Where a delay-topic record goes next: the topic (due) or the delay topic again (not yet). */
export interface NextHop {
  readonly to: 'topic' | 'delay';
  readonly record: Message;
}

/**
 * The next hop of a record read from the delay topic at `now`: once its `carrier-deliver-at` has
 * passed, the message as published (ladder headers removed, timestamp = now); otherwise the
 * delay topic again, on the level of what remains. A record without a readable due time goes to
 * the topic at once.
 */
export function nextHop(record: KafkaMessage, now: number, partitions: number): NextHop {
  const headers: IHeaders = { ...record.headers };
  const deliverAt = parseDeliverAt(headerText(headers[DELIVER_AT_HEADER]))?.getTime();
  delete headers[DELIVER_AT_HEADER];
  delete headers[HEADERS.dueAt];
  const message: Message = { key: record.key, value: record.value, headers, timestamp: String(now) };
  if (deliverAt === undefined || deliverAt <= now) return { to: 'topic', record: message };
  return { to: 'delay', record: ladderRecord(message, deliverAt, now, partitions) };
}

function headerText(value: IHeaders[string]): string | undefined {
  const last = Array.isArray(value) ? value[value.length - 1] : value;
  if (last === undefined) return undefined;
  return typeof last === 'string' ? last : last.toString('utf8');
}
