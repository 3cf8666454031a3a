import { NativeToken } from '@carrier/core';
import type { Admin, Consumer, Kafka, KafkaMessage, Producer } from 'kafkajs';

/** What `carrier.as(native.connection)` gives on a Kafka connection. */
export interface KafkaConnectionNative {
  /** The kafkajs client Carrier connected with (its brokers, SASL and TLS settings). */
  readonly kafka: Kafka;
  /** The kafkajs admin client Carrier declares topics and reads offsets with (connected). */
  readonly admin: Admin;
  /**
   * The idempotent kafkajs producer Carrier publishes with (acks=all), connected on first use.
   * Carrier replaces it after a failed send, so ask again instead of keeping it. Rejects with
   * `CLOSED` once the connection is closed.
   */
  producer(): Promise<Producer>;
}

/** What `subscription.as(native.subscription)` gives on a Kafka subscription. */
export interface KafkaSubscriptionNative {
  /** The kafkajs consumer of this subscription (running; Carrier pauses, seeks and commits it). */
  readonly consumer: Consumer;
  /** Its consumer group id (see `consumerGroupId` / `deadLetterGroupId`). */
  readonly groupId: string;
}

/** What `message.as(native.message)` gives for a message received from Kafka. */
export interface KafkaMessageNative {
  /** The topic the record was read from (the group's retry topic for a retried message). */
  readonly topic: string;
  readonly partition: number;
  /** The kafkajs record: `offset`, `timestamp`, raw `key`, `value` and `headers` (Carrier's included). */
  readonly message: KafkaMessage;
}

/**
 * The typed tokens of Carrier's native access on Kafka (as Go CDK's `As`): pass one to
 * `carrier.as`, `subscription.as` or `message.as` of a `kafka://` connection; on another transport
 * they throw `UNSUPPORTED`. Using the objects voids portability; see the README for what is safe.
 */
export const native = {
  connection: new NativeToken<KafkaConnectionNative, 'connection'>(
    'kafka',
    'connection',
    'the kafkajs Kafka client, admin and producer',
  ),
  subscription: new NativeToken<KafkaSubscriptionNative, 'subscription'>(
    'kafka',
    'subscription',
    'the kafkajs consumer and its group id',
  ),
  message: new NativeToken<KafkaMessageNative, 'message'>(
    'kafka',
    'message',
    'the kafkajs record with its topic and partition',
  ),
} as const;
