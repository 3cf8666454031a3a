import { NativeToken } from '@carrier/core';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';

/** What `carrier.as(native.connection)` gives on a RabbitMQ connection. */
export interface RabbitConnectionNative {
  /**
   * The current amqplib connection (promise API), waiting for a reconnection under way. Carrier
   * replaces it after a reconnection, so ask again instead of keeping it; open your own channels
   * on it and close them yourself, never the connection. Rejects with `CLOSED` once closed.
   */
  connection(): Promise<ChannelModel>;
}

/** What `subscription.as(native.subscription)` gives on a RabbitMQ subscription (live values). */
export interface RabbitSubscriptionNative {
  /** The queue it consumes (see `groupQueueName` / `deadLetterQueueName`). */
  readonly queue: string;
  /** Its consumer channel now (undefined while it reconnects); settle nothing on it yourself. */
  readonly channel: Channel | undefined;
  /** Its consumer tag on that channel, once `basic.consume` was answered. */
  readonly consumerTag: string | undefined;
}

/**
 * The typed tokens of Carrier's native access on RabbitMQ (as Go CDK's `As`): pass one to
 * `carrier.as`, `subscription.as` or `message.as` of an `amqp://` connection; on another transport
 * they throw `UNSUPPORTED`. `message.as(native.message)` gives the amqplib `ConsumeMessage`
 * (`fields`: delivery tag, redelivered, exchange, routing key; `properties`; `content`). Using them
 * voids portability; see the README for what is safe.
 */
export const native = {
  connection: new NativeToken<RabbitConnectionNative, 'connection'>(
    'rabbitmq',
    'connection',
    'the amqplib connection',
  ),
  subscription: new NativeToken<RabbitSubscriptionNative, 'subscription'>(
    'rabbitmq',
    'subscription',
    'the queue, consumer channel and consumer tag',
  ),
  message: new NativeToken<ConsumeMessage, 'message'>('rabbitmq', 'message', 'the amqplib ConsumeMessage'),
} as const;
