import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  type Capabilities,
  CarrierError,
  type ConsumerLag,
  type DeadLetterDelivery,
  type DeclareOptions,
  type Delivery,
  type NativeAnswer,
  type NativeToken,
  type ReplyDestination,
  type Transport,
  type TransportSubscribeOptions,
  type TransportSubscription,
  type WireMessage,
} from '@carrier/core';
import { hold, publishDelayCapabilities } from './delay.js';
import { awsError, closedError, TRANSPORT } from './errors.js';
import { guardClient } from './guard-client.js';
import { native } from './native.js';
import { maxMessageBytes, Producer } from './producer.js';
import { type Lease, Receiver, SQS_MAX_DELAY_MS } from './receiver.js';
import { redrive } from './redrive.js';
import { ReplyQueue, sendReply } from './replies.js';
import { deadLetterDelivery, giveBack, groupDelivery } from './settlement.js';
import { Topology } from './topology.js';
import type { SqsSettings } from './url.js';
import { decodeMessage, deliverAtOf } from './wire.js';

/** Most replies a reply queue's receiver holds undeleted: two polling loops of 10. */
const REPLY_PREFETCH = 20;

/**
 * Carrier over Amazon SQS with SNS fan-out. SNS mode: a topic is an SNS topic, a group an SQS queue
 * subscribed with raw message delivery. Queue-only mode (`sns=false`): a topic is one SQS queue with a
 * single group. FIFO mode (`fifo=true`, or a topic whose name ends in `.fifo`): FIFO topics and
 * queues, key → MessageGroupId, id → MessageDeduplicationId. Built by `createTransport` (factory.ts).
 */
export class SqsTransport implements Transport {
  readonly name = TRANSPORT;
  /** OpenTelemetry `messaging.system`: `aws_sqs`, also for SNS fan-out, whose deliveries come from SQS (docs/observability.md). */
  readonly system = 'aws_sqs';
  readonly capabilities: Capabilities;
  readonly #sqs: SQSClient;
  readonly #sns: SNSClient | undefined;
  readonly #settings: SqsSettings;
  readonly #topology: Topology;
  readonly #producer: Producer;
  readonly #onError: (error: Error) => void;
  readonly #receivers = new Set<Receiver>();
  readonly #replyQueues = new Set<ReplyQueue>();
  /** Receives in flight (cancelled only by abort()). */
  readonly #receives = new Set<AbortController>();
  /** Every SQS/SNS call in flight (close waits for them). */
  readonly #calls = new Set<Promise<unknown>>();
  /** publish() calls in flight (close waits for them). */
  readonly #publishes = new Set<Promise<void>>();
  /** Set when close() or abort() starts: no new operation is accepted. */
  #closed = false;
  #closing: Promise<void> | undefined;
  #aborted = false;

  constructor(
    settings: SqsSettings,
    sqs: SQSClient,
    sns: SNSClient | undefined,
    onError: (error: Error) => void,
  ) {
    this.#settings = settings;
    const guard = {
      requestTimeoutMs: settings.requestTimeoutMs,
      track: (call: Promise<unknown>) => {
        this.#calls.add(call);
        const done = () => this.#calls.delete(call);
        call.then(done, done);
      },
    };
    this.#sqs = guardClient(sqs, guard);
    this.#sns = sns ? guardClient(sns, guard) : undefined;
    this.#onError = onError;
    this.#topology = new Topology(this.#sqs, this.#sns, settings);
    this.#producer = new Producer(this.#sqs, this.#sns, this.#topology, settings);
    this.capabilities = {
      fanOut: settings.sns,
      competingConsumers: true,
      perKeyOrder: settings.fifo,
      nativeDelay: true,
      maxDelayMs: SQS_MAX_DELAY_MS,
      ...publishDelayCapabilities(settings),
      maxMessageBytes: maxMessageBytes(this.#producer.limit),
      redrive: true,
      // SQS deletes what a group consumed and SNS keeps nothing: a new group's queue has no history
      replay: false,
      // a reply queue per requester connection; replies bypass SNS (replies.ts)
      requestReply: true,
      // the group queue's approximate counts (Topology.lag)
      lag: true,
    };
  }

  #ensureOpen(): void {
    if (this.#closed) throw closedError();
  }

  /**
   * The topic and each group's queues. `options.ordered` needs nothing at creation (a FIFO queue
   * keeps per-key order for every group; a standard queue has none, and core refuses `ordered`
   * there); `startFrom` can only be `'now'` (`capabilities.replay` is false).
   */
  async declare(topic: string, groups: readonly string[], _options?: DeclareOptions): Promise<void> {
    this.#ensureOpen();
    if (!this.#settings.sns && groups.length > 1) {
      throw new CarrierError('UNSUPPORTED', 'queue-only mode (sns=false) has one group per topic', {
        transport: TRANSPORT,
      });
    }
    if (this.#settings.sns) await this.#topology.topicArn(topic);
    else await this.#topology.topicQueueUrl(topic);
    await Promise.all(groups.map((g) => this.#topology.group(topic, g)));
  }

  /**
   * See {@link Transport.publish}. Every call has a deadline (`requestTimeoutMs`); a publish in flight
   * when `close()` starts is finished before the connection closes (only `abort()` fails it).
   *
   * @throws CarrierError `CLOSED` once close() or abort() started; `MESSAGE_TOO_LARGE`;
   *   `PUBLISH_FAILED` naming the messages not accepted.
   */
  publish(topic: string, messages: readonly WireMessage[]): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    const p = this.#producer.publish(topic, messages);
    this.#publishes.add(p);
    const done = () => this.#publishes.delete(p);
    p.then(done, done);
    return p;
  }

  /** Native access (`carrier.as(native.connection)`): the SQS and SNS clients. */
  native(token: NativeToken<unknown>): NativeAnswer | undefined {
    if (token !== native.connection) return undefined;
    return native.connection.wrap({ sqs: this.#sqs, sns: this.#sns });
  }

  /** A receiver of `queueUrl`, registered until its subscription is closed (not started yet). */
  #receiver(
    queueUrl: string,
    shortPoll: boolean,
    prefetch: number,
    deliver: (lease: Lease) => void,
    giveBack: (lease: Lease) => Promise<void>,
    onReceive: TransportSubscribeOptions['onReceive'],
  ): { receiver: Receiver; subscription: TransportSubscription } {
    const receiver: Receiver = new Receiver({
      sqs: this.#sqs,
      queueUrl,
      prefetch,
      onReceive,
      visibilityTimeoutSeconds: this.#settings.visibilityTimeoutSeconds,
      waitTimeSeconds: this.#settings.waitTimeSeconds,
      shortPoll,
      deliver,
      giveBack,
      onError: this.#onError,
      track: (controller) => {
        this.#receives.add(controller);
        return () => this.#receives.delete(controller);
      },
    });
    this.#receivers.add(receiver);
    const sqs = this.#sqs;
    const subscription: TransportSubscription = {
      native: (token) =>
        token === native.subscription ? native.subscription.wrap({ queueUrl, sqs }) : undefined,
      stop: () => receiver.stop(),
      close: async () => {
        await receiver.close();
        this.#receivers.delete(receiver);
      },
    };
    return { receiver, subscription };
  }

  async subscribe(
    topic: string,
    group: string,
    options: TransportSubscribeOptions,
    sink: (delivery: Delivery) => void,
  ): Promise<TransportSubscription> {
    this.#ensureOpen();
    if (options.ordered && !this.#topology.fifo(topic)) {
      throw new CarrierError('UNSUPPORTED', 'per-key order needs FIFO (fifo=true)', { transport: TRANSPORT });
    }
    const queues = await this.#topology.group(topic, group);
    this.#ensureOpen();
    const sqs = this.#sqs;
    const { receiver, subscription } = this.#receiver(
      queues.queueUrl,
      queues.fifo,
      options.prefetch,
      (lease) => {
        // a delayed message on Carrier's own path that is not due yet is held, not handed out
        const deliverAt = deliverAtOf(lease.message);
        if (deliverAt === undefined || deliverAt.getTime() <= Date.now()) {
          sink(groupDelivery(sqs, receiver, queues, lease));
          return;
        }
        hold(sqs, receiver, queues, lease, deliverAt).catch((error: unknown) => {
          if (!this.#closed) this.#onError(awsError('holding a delayed message until it is due', error));
        });
      },
      (lease) => giveBack(sqs, receiver, queues, lease),
      options.onReceive,
    );
    receiver.start();
    return subscription;
  }

  async subscribeDeadLetters(
    topic: string,
    group: string,
    options: Pick<TransportSubscribeOptions, 'prefetch' | 'onReceive'>,
    sink: (delivery: DeadLetterDelivery) => void,
  ): Promise<TransportSubscription> {
    this.#ensureOpen();
    const queues = await this.#topology.group(topic, group);
    this.#ensureOpen();
    const { receiver, subscription } = this.#receiver(
      queues.deadLetterQueueUrl,
      true,
      options.prefetch,
      (lease) => sink(deadLetterDelivery(receiver, lease)),
      (lease) => receiver.changeVisibility(lease, 0),
      options.onReceive,
    );
    receiver.start();
    return subscription;
  }

  async redrive(topic: string, group: string, max: number): Promise<number> {
    this.#ensureOpen();
    const queues = await this.#topology.group(topic, group);
    return redrive(this.#sqs, queues, max, () => this.#ensureOpen());
  }

  /** The group's approximate lag from its queue's counts: see `Topology.lag` and docs/brokers/sqs.md. */
  async lag(topic: string, group: string, signal?: AbortSignal): Promise<ConsumerLag> {
    this.#ensureOpen();
    return this.#topology.lag(topic, group, signal);
  }

  /**
   * The reply destination of this connection (request/reply): a standard SQS queue of its own,
   * `carrier_reply-<time>-<uuid>` (5-minute retention), deleted on close; the address is its URL.
   * Also sweeps, in the background, the reply queues that crashed requesters left (replies.ts).
   *
   * @throws CarrierError `CLOSED`; `CONNECTION` when the queue cannot be created.
   */
  async openReplies(sink: (reply: WireMessage) => void): Promise<ReplyDestination> {
    this.#ensureOpen();
    const queue: ReplyQueue = new ReplyQueue({
      sqs: this.#sqs,
      onError: this.#onError,
      receive: (queueUrl) => {
        // two long-poll loops of 10; a reply frees its slot at once and is deleted in the background
        // (batched), so a burst of replies is not held back by the deletes
        const { receiver, subscription } = this.#receiver(
          queueUrl,
          false,
          REPLY_PREFETCH,
          (lease) => {
            // a reply is never redelivered: it is deleted whatever becomes of it
            const deleted = receiver.delete(lease).catch(() => {});
            receiver.settle(lease, async () => void deleted).catch(() => {});
            sink(decodeMessage(lease.message).message);
          },
          (lease) => receiver.delete(lease),
          undefined, // replies have no receive spans
        );
        receiver.start();
        return subscription;
      },
    });
    const address = await queue.open();
    this.#replyQueues.add(queue);
    if (this.#closed) {
      await queue.close();
      throw closedError();
    }
    return {
      address,
      close: async () => {
        await queue.close();
        this.#replyQueues.delete(queue);
      },
    };
  }

  /**
   * Sends a reply straight to the requester's reply queue (SendMessage to the URL in `address`, in
   * every mode: never through SNS). A queue that is gone drops it.
   *
   * @throws CarrierError `CLOSED`; `INVALID_ARGUMENT` when `address` is not a Carrier reply queue's
   *   URL; `PUBLISH_FAILED` when SQS refused it.
   */
  reply(address: string, message: WireMessage): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    const p = sendReply(this.#sqs, address, message);
    this.#publishes.add(p);
    const done = () => this.#publishes.delete(p);
    p.then(done, done);
    return p;
  }

  /**
   * Graceful: refuses new operations (`CLOSED`), finishes the publishes in flight, closes every
   * receiver (each gives back what it holds and waits for its receives in flight, at most
   * `waitTimeSeconds`, giving back what they bring), waits for every call still in flight (each
   * has a deadline), then closes the clients. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#aborted) return;
    this.#closed = true;
    await Promise.allSettled([...this.#publishes]);
    await Promise.allSettled([...this.#replyQueues].map((queue) => queue.close()));
    this.#replyQueues.clear();
    await Promise.allSettled([...this.#receivers].map((receiver) => receiver.close()));
    this.#receivers.clear();
    // batched settlements are sent on the next turn; then wait until nothing is in flight
    for (let i = 0; i < 100; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      if (this.#calls.size === 0) break;
      await Promise.allSettled([...this.#calls]);
    }
    this.#sqs.destroy();
    this.#sns?.destroy();
  }

  async abort(): Promise<void> {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#closed = true;
    for (const queue of this.#replyQueues) queue.abort();
    this.#replyQueues.clear();
    for (const receiver of this.#receivers) receiver.abort();
    for (const controller of this.#receives) controller.abort();
    this.#receivers.clear();
    this.#sqs.destroy();
    this.#sns?.destroy();
  }
}
