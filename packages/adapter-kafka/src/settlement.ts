import type { DeadLetterDelivery, DeadLetterInfo, Delivery } from '@carrier/core';
import type { KafkaMessage, Message } from 'kafkajs';
import { kafkaError } from './errors.js';
import { deadLetterTopic, retryTopic } from './names.js';
import { native } from './native.js';
import type { RecordHandle } from './receiver.js';
import { deadLetterHeaders, fromRecord, retryHeaders, toRecord } from './wire.js';

/** Writes one copy to a Carrier-owned topic; rejects (`SETTLE_FAILED`) unless Kafka confirmed it. */
export type Copy = (topic: string, record: Message) => Promise<void>;

/** Where a record of a group's subscription was read. */
export interface Source {
  /** The Carrier topic and group of the subscription. */
  readonly topic: string;
  readonly group: string;
  /** The Kafka topic the record came from (the topic or the group's retry topic) and its partition. */
  readonly from: string;
  readonly partition: number;
}

/**
 * Settles through `write` (nothing for an ack, a copy for retry and dead-letter), then marks the
 * record done. If `write` fails, the record is read again from Kafka and handed out again (its
 * delivery counted) and the error rethrown; it holds no other record's commit back.
 */
async function settle(handle: RecordHandle, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (error) {
    handle.failed();
    throw error;
  }
  try {
    await handle.done();
  } catch (cause) {
    throw kafkaError(
      'SETTLE_FAILED',
      'committing the offset failed (the group rebalanced?); it will be redelivered',
      cause,
    );
  }
}

async function release(handle: RecordHandle): Promise<void> {
  try {
    await handle.release();
  } catch (cause) {
    throw kafkaError('SETTLE_FAILED', 'committing a release failed; the record will be redelivered', cause);
  }
}

/**
 * The delivery of a record of a group's subscription. Its attempt is the copy's own (retry copies
 * carry it) plus its earlier deliveries that were never settled. `retry` writes a copy to the
 * group's retry topic, `deadLetter` one to its dead-letter topic; each settlement rejects with
 * `SETTLE_FAILED` when the copy or the offset commit failed (the record is then redelivered).
 */
export function toDelivery(source: Source, record: KafkaMessage, handle: RecordHandle, copy: Copy): Delivery {
  const { topic, group } = source;
  const decoded = fromRecord(source.from, source.partition, record);
  const { message } = decoded;
  const attempt = decoded.attempt + handle.previousDeliveries;
  return {
    message,
    attempt,
    lease: handle.lease,
    ack: () => settle(handle, async () => {}),
    retry: (delayMs) =>
      settle(handle, () =>
        copy(
          retryTopic(topic, group),
          toRecord(message, retryHeaders(attempt + 1, new Date(Date.now() + delayMs))),
        ),
      ),
    deadLetter: (info: DeadLetterInfo) =>
      settle(handle, () => copy(deadLetterTopic(topic, group), toRecord(message, deadLetterHeaders(info)))),
    release: () => release(handle),
    native: (token) =>
      token === native.message
        ? native.message.wrap({ topic: source.from, partition: source.partition, message: record })
        : undefined,
  };
}

/** The delivery of a dead-letter record; `ack` and `release` reject with `SETTLE_FAILED` when the commit failed. */
export function toDeadLetterDelivery(
  from: string,
  partition: number,
  record: KafkaMessage,
  handle: RecordHandle,
): DeadLetterDelivery {
  const { message, attempt, deadLetter } = fromRecord(from, partition, record);
  return {
    message,
    info: deadLetter ?? { reason: 'unknown', attempts: attempt, failedAt: message.publishedAt },
    ack: async () => {
      try {
        await handle.done();
      } catch (cause) {
        throw kafkaError('SETTLE_FAILED', 'committing the dead-letter offset failed', cause);
      }
    },
    release: () => release(handle),
  };
}
