import { NativeToken } from '@carrier/core';
import type { ConsumerInfo, JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { AckInfo } from './wire.js';

/** What `carrier.as(native.connection)` gives on a NATS connection. */
export interface NatsConnectionNative {
  /** The nats.js connection (core NATS, KV, object store, …). Carrier owns it: never close or drain it. */
  readonly connection: NatsConnection;
  /** A JetStream client on it. */
  readonly jetstream: JetStreamClient;
  /** A JetStream manager on it (streams, consumers, direct gets). */
  readonly manager: JetStreamManager;
}

/** What `subscription.as(native.subscription)` gives on a NATS subscription. */
export interface NatsSubscriptionNative {
  /** The stream it reads (see `topicStream` / `deadLetterStream`). */
  readonly stream: string;
  /** Its durable pull consumer (see `consumerName`). */
  readonly consumer: string;
  /** The consumer's info from the server (a JetStream API call): pending, ack pending, config, … */
  info(): Promise<ConsumerInfo>;
}

/** What `message.as(native.message)` gives for a message received from NATS JetStream. */
export interface NatsMessageNative {
  /**
   * The message as Carrier pulled it: a core nats.js `Msg` (Carrier pulls with raw JetStream pull
   * requests, so there is no `JsMsg`); `reply` is its ack subject. Settle through Carrier only.
   */
  readonly msg: Msg;
  /** What its ack subject says, as `JsMsg.info` would: stream, consumer, delivery count, sequence, timestamp. */
  readonly info: AckInfo | undefined;
}

/**
 * The typed tokens of Carrier's native access on NATS (as Go CDK's `As`): pass one to
 * `carrier.as`, `subscription.as` or `message.as` of a `nats://` connection; on another transport
 * they throw `UNSUPPORTED`. Using them voids portability; see the README for what is safe.
 */
export const native = {
  connection: new NativeToken<NatsConnectionNative, 'connection'>(
    'nats',
    'connection',
    'the nats.js connection, JetStream client and manager',
  ),
  subscription: new NativeToken<NatsSubscriptionNative, 'subscription'>(
    'nats',
    'subscription',
    'the stream, the durable consumer and its info',
  ),
  message: new NativeToken<NatsMessageNative, 'message'>(
    'nats',
    'message',
    'the nats.js Msg and its JetStream delivery info',
  ),
} as const;
