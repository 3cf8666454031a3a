import type { Channel, ChannelModel, Options } from 'amqplib';
import { messageOf, rabbitError, replyCode } from './errors.js';
import {
  deadLetterQueueName,
  delayQueueName,
  exchangeName,
  groupQueueName,
  releaseLedgerName,
} from './names.js';
import type { QueueType } from './url.js';

/** Whether a group queue delivers to a single active consumer (ordered) or to competing consumers. */
export type GroupMode = 'ordered' | 'competing';

/** How long a release record is kept when its message is never delivered again (a week), in ms. */
export const RELEASE_RECORD_TTL_MS = 7 * 24 * 3_600_000;

/** Arguments of a group or dead-letter queue. */
export function queueArguments(queueType: QueueType, singleActiveConsumer: boolean): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  // classic is the server's default: leaving the argument out stays equivalent to queues declared natively
  if (queueType === 'quorum') args['x-queue-type'] = 'quorum';
  if (singleActiveConsumer) args['x-single-active-consumer'] = true;
  return args;
}

/**
 * Arguments of a group queue: its type, single active consumer when ordered, and the group's
 * dead-letter queue as the broker's own dead-letter target, so that what the broker dead-letters
 * (a native client's `basic.reject` without requeue, a quorum queue's delivery limit, which RabbitMQ
 * 4 sets to 20 by default) lands in the group's dead letters instead of being dropped.
 */
export function groupQueueArguments(
  queueType: QueueType,
  singleActiveConsumer: boolean,
  deadLetterQueue: string,
): Record<string, unknown> {
  return {
    ...queueArguments(queueType, singleActiveConsumer),
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': deadLetterQueue,
  };
}

/**
 * Arguments of a delay queue: messages expire after `levelMs` and are dead-lettered through the
 * default exchange to the group queue only. Quorum delay queues dead-letter at-least-once (which
 * RabbitMQ allows only with `x-overflow: reject-publish`).
 */
export function delayQueueArguments(
  queueType: QueueType,
  levelMs: number,
  groupQueue: string,
): Record<string, unknown> {
  const args: Record<string, unknown> = {
    ...queueArguments(queueType, false),
    'x-message-ttl': levelMs,
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': groupQueue,
  };
  if (queueType === 'quorum') {
    args['x-dead-letter-strategy'] = 'at-least-once';
    args['x-overflow'] = 'reject-publish';
  }
  return args;
}

class Conflict extends Error {}

/**
 * Declares Carrier's objects on one connection, idempotently and once per connection (results are
 * cached; concurrent calls share one declaration). Each declaration runs on its own short-lived
 * channel, because a refused declaration (406 PRECONDITION_FAILED: an existing object with other
 * arguments) closes the channel it ran on: it never touches publishing or consuming channels.
 */
export class Topology {
  readonly #exchanges = new Map<string, Promise<void>>();
  readonly #groups = new Map<string, Promise<GroupMode>>();
  readonly #queues = new Map<string, Promise<void>>();

  constructor(
    private readonly model: ChannelModel,
    private readonly queueType: QueueType,
  ) {}

  async #withChannel<T>(what: string, work: (channel: Channel) => Promise<T>): Promise<T> {
    let channel: Channel;
    try {
      channel = await this.model.createChannel();
    } catch (cause) {
      throw rabbitError('CONNECTION', `cannot open a channel to declare ${what}: ${messageOf(cause)}`, cause);
    }
    channel.on('error', () => {
      // a refused declaration closes this channel only; the caller gets the error
    });
    try {
      return await work(channel);
    } catch (cause) {
      if (cause instanceof Conflict) throw cause;
      const code = replyCode(cause);
      if (code === 406) throw new Conflict(messageOf(cause), { cause });
      throw rabbitError('CONNECTION', `declaring ${what} failed: ${messageOf(cause)}`, cause);
    } finally {
      await channel.close().catch(() => {});
    }
  }

  #once<T>(cache: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
    let promise = cache.get(key);
    if (!promise) {
      promise = make();
      cache.set(key, promise);
      promise.catch(() => cache.delete(key));
    }
    return promise;
  }

  /**
   * Forget what was declared for `topic` (and `group`), so the next call declares it again: after the
   * broker said an object is gone (404, a consumer cancelled because its queue was deleted).
   */
  forget(topic: string, group?: string): void {
    this.#exchanges.delete(exchangeName(topic));
    if (group !== undefined) this.#groups.delete(groupQueueName(topic, group));
  }

  /** The topic's durable topic exchange `carrier:<topic>`. */
  exchange(topic: string): Promise<void> {
    const name = exchangeName(topic);
    return this.#once(this.#exchanges, name, async () => {
      try {
        await this.#withChannel(`exchange ${name}`, async (channel) => {
          await channel.assertExchange(name, 'topic', { durable: true, autoDelete: false, internal: false });
        });
      } catch (error) {
        if (error instanceof Conflict) {
          throw rabbitError(
            'TOPOLOGY_CONFLICT',
            `exchange ${name} exists with other settings: ${error.message}`,
            error,
          );
        }
        throw error;
      }
    });
  }

  async #queue(channel: Channel, name: string, args: Record<string, unknown>): Promise<void> {
    const options: Options.AssertQueue = {
      durable: true,
      exclusive: false,
      autoDelete: false,
      arguments: args,
    };
    await channel.assertQueue(name, options);
  }

  /**
   * The group's queue (bound to the exchange with `#`) and its dead-letter queue. A new group queue
   * gets `x-single-active-consumer` when `ordered`. An existing queue is accepted with either mode,
   * except that an ordered subscription cannot use a queue declared for competing consumers.
   * Resolves with the mode the queue has.
   *
   * @throws CarrierError `TOPOLOGY_CONFLICT` when existing queues have other arguments (another queue
   *   type, say), or when `ordered` is asked of a competing-consumers queue.
   */
  async group(topic: string, group: string, ordered: boolean): Promise<GroupMode> {
    await this.exchange(topic);
    const queue = groupQueueName(topic, group);
    const mode = await this.#once(this.#groups, queue, async () => {
      const first: GroupMode = ordered ? 'ordered' : 'competing';
      const other: GroupMode = ordered ? 'competing' : 'ordered';
      let actual: GroupMode;
      try {
        await this.#declareGroupQueue(topic, group, first);
        actual = first;
      } catch (error) {
        if (!(error instanceof Conflict)) throw error;
        try {
          await this.#declareGroupQueue(topic, group, other);
          actual = other;
        } catch (again) {
          if (!(again instanceof Conflict)) throw again;
          throw rabbitError(
            'TOPOLOGY_CONFLICT',
            `queue ${queue} exists with arguments Carrier did not set (queue type ${this.queueType} expected): ${error.message}`,
            error,
          );
        }
      }
      const dlq = deadLetterQueueName(topic, group);
      try {
        await this.#withChannel(`queue ${dlq}`, (channel) =>
          this.#queue(channel, dlq, queueArguments(this.queueType, false)),
        );
      } catch (error) {
        if (error instanceof Conflict) {
          throw rabbitError(
            'TOPOLOGY_CONFLICT',
            `queue ${dlq} exists with other arguments: ${error.message}`,
            error,
          );
        }
        throw error;
      }
      if (actual === 'ordered') await this.#releaseLedger(topic, group);
      return actual;
    });
    if (ordered && mode !== 'ordered') {
      throw rabbitError(
        'TOPOLOGY_CONFLICT',
        `group ${group} of ${topic} was created for competing consumers (queue ${queue} has no x-single-active-consumer); an ordered subscription needs a new group or the queue deleted`,
      );
    }
    return mode;
  }

  /** The release ledger of an ordered group (see `release-ledger.ts`); records expire after a week. */
  async #releaseLedger(topic: string, group: string): Promise<void> {
    const name = releaseLedgerName(topic, group);
    try {
      await this.#withChannel(`queue ${name}`, (channel) =>
        this.#queue(channel, name, {
          ...queueArguments(this.queueType, false),
          'x-message-ttl': RELEASE_RECORD_TTL_MS,
        }),
      );
    } catch (error) {
      if (error instanceof Conflict) {
        throw rabbitError(
          'TOPOLOGY_CONFLICT',
          `queue ${name} exists with other arguments: ${error.message}`,
          error,
        );
      }
      throw error;
    }
  }

  async #declareGroupQueue(topic: string, group: string, mode: GroupMode): Promise<void> {
    const queue = groupQueueName(topic, group);
    await this.#withChannel(`queue ${queue}`, async (channel) => {
      const args = groupQueueArguments(this.queueType, mode === 'ordered', deadLetterQueueName(topic, group));
      await this.#queue(channel, queue, args);
      await channel.bindQueue(queue, exchangeName(topic), '#');
    });
  }

  /** The group's delay queue for `levelMs` (see `delay.ts`). */
  delayQueue(topic: string, group: string, levelMs: number): Promise<void> {
    const name = delayQueueName(topic, group, levelMs);
    return this.#once(this.#queues, name, async () => {
      try {
        await this.#withChannel(`queue ${name}`, (channel) =>
          this.#queue(
            channel,
            name,
            delayQueueArguments(this.queueType, levelMs, groupQueueName(topic, group)),
          ),
        );
      } catch (error) {
        if (error instanceof Conflict) {
          throw rabbitError(
            'TOPOLOGY_CONFLICT',
            `queue ${name} exists with other arguments: ${error.message}`,
            error,
          );
        }
        throw error;
      }
    });
  }
}
