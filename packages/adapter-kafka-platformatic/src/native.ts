import type { ReadRecord } from '@carrier/adapter-kafka/driver-kit';
import { NativeToken } from '@carrier/core';
import type { Consumer, Producer } from '@platformatic/kafka';

/** What `carrier.as(native.connection)` gives on a `client=platformatic` connection. */
export interface PlatformaticConnectionNative {
  /**
   * The idempotent @platformatic/kafka producer Carrier publishes with (acks=all), created on
   * first use. Carrier replaces it after a failed send, so ask again instead of keeping it.
   *
   * @throws CarrierError `CLOSED` once the connection is closed.
   */
  producer(): Producer;
}

/** What `subscription.as(native.subscription)` gives. */
export interface PlatformaticSubscriptionNative {
  /** The @platformatic/kafka consumer of this subscription (Carrier reads its stream and commits). */
  readonly consumer: Consumer;
  /** Its consumer group id (see `consumerGroupId` / `deadLetterGroupId`). */
  readonly groupId: string;
}

/** What `message.as(native.message)` gives. */
export interface PlatformaticMessageNative {
  /** The topic the record was read from (the group's retry topic for a retried message). */
  readonly topic: string;
  readonly partition: number;
  /**
   * The record as adapter-kafka's wire code reads it (kafkajs' `ReadRecord` shape: `offset`,
   * `timestamp` as decimal strings, raw `key`, `value`, and `headers` as Buffers).
   */
  readonly message: ReadRecord;
}

/**
 * Native access tokens of the `client=platformatic` driver (not those of `@carrier/adapter-kafka`,
 * whose answers are kafkajs objects).
 */
export const native = {
  connection: new NativeToken<PlatformaticConnectionNative, 'connection'>(
    'kafka',
    'connection',
    'the @platformatic/kafka producer',
  ),
  subscription: new NativeToken<PlatformaticSubscriptionNative, 'subscription'>(
    'kafka',
    'subscription',
    'the @platformatic/kafka consumer and its group id',
  ),
  message: new NativeToken<PlatformaticMessageNative, 'message'>(
    'kafka',
    'message',
    'the record with its topic and partition',
  ),
} as const;
