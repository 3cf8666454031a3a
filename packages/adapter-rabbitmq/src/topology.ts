import { describeError, OncePerKey } from '@carrier/core/kit';
import type { Channel, ChannelModel, Options } from 'amqplib';
import { openChannel } from './connection.js';
import { rabbitError, replyCode } from './errors.js';
import {
  deadLetterQueueName,
  delayQueueName,
  exchangeName,
  groupQueueName,
  releaseLedgerName,
} from './names.js';
import { bindDelivery, declareLadder } from './publish-delay.js';
import type { QueueType } from './url.js';

/** Whether a group queue delivers to a single active consumer (ordered) or to competing consumers. */
export type GroupMode = 'ordered' | 'competing';

/** How long a release record is kept when its message is never delivered again (a week), in ms. */
const RELEASE_RECORD_TTL_MS = 7 * 24 * 3_600_000;

/** Arguments of a group or dead-letter queue. */
function queueArguments(queueType: QueueType, singleActiveConsumer: boolean): Record<string, unknown> {
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
function groupQueueArguments(
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
function delayQueueArguments(
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
 * kept; concurrent calls share one declaration; failures are forgotten). Each declaration runs on its
 * own short-lived channel, because a refused declaration (406 PRECONDITION_FAILED: an existing
 * object with other arguments) closes the channel it ran on: it never touches publishing or
 * consuming channels.
 */
export class Topology {
  readonly #exchanges = new OncePerKey<void>();
  readonly #groups = new OncePerKey<GroupMode>();
  readonly #queues = new OncePerKey<void>();
  /** The publish-delay ladder (key: queue type) and the topics bound to its delivery exchange. */
  readonly #ladder = new OncePerKey<void>();
  readonly #deliveries = new OncePerKey<void>();

  constructor(
    private readonly model: ChannelModel,
    readonly queueType: QueueType,
  ) {}

  /**
   * Run `work` on a new channel. A 406 (refused declaration) becomes `TOPOLOGY_CONFLICT` saying that
   * `what` exists with other `differs` (or, with `differs` false, a {@link Conflict} for the caller
   * to handle); any other failure becomes `CONNECTION`.
   */
  async #withChannel<T>(
    what: string,
    work: (channel: Channel) => Promise<T>,
    differs: string | false = 'arguments',
  ): Promise<T> {
    const channel = await openChannel(this.model, `declare ${what}`);
    try {
      return await work(channel);
    } catch (cause) {
      if (replyCode(cause) !== 406) {
        throw rabbitError('CONNECTION', `declaring ${what} failed: ${describeError(cause)}`, cause);
      }
      const conflict = new Conflict(describeError(cause), { cause });
      if (differs === false) throw conflict;
      throw rabbitError(
        'TOPOLOGY_CONFLICT',
        `${what} exists with other ${differs}: ${conflict.message}`,
        conflict,
      );
    } finally {
      await channel.close().catch(() => {});
    }
  }

  /**
   * Forget what was declared for `topic` (and `group`), so the next call declares it again: after the
   * broker said an object is gone (404, a consumer cancelled because its queue was deleted).
   */
  forget(topic: string, group?: string): void {
    this.#exchanges.forget(exchangeName(topic));
    this.#deliveries.forget(topic);
    this.#ladder.forget(this.queueType);
    if (group !== undefined) this.#groups.forget(groupQueueName(topic, group));
  }

  /** The topic's durable topic exchange `carrier:<topic>`. */
  exchange(topic: string): Promise<void> {
    const name = exchangeName(topic);
    return this.#exchanges.run(name, () =>
      this.#withChannel(
        `exchange ${name}`,
        async (channel) => {
          await channel.assertExchange(name, 'topic', { durable: true, autoDelete: false, internal: false });
        },
        'settings',
      ),
    );
  }

  /**
   * What a delayed publish to `topic` needs (see `publish-delay.ts`): the topic's exchange, the
   * ladder of this queue type (declared on one channel, once per connection) and the topic's
   * binding to the delivery exchange.
   *
   * @throws CarrierError `TOPOLOGY_CONFLICT` when a ladder object exists with other arguments,
   *   `CONNECTION` when a declaration failed otherwise.
   */
  async publishDelay(topic: string): Promise<void> {
    await this.exchange(topic);
    await this.#ladder.run(this.queueType, () =>
      this.#withChannel(`the publish-delay ladder (${this.queueType})`, (channel) =>
        declareLadder(channel, this.queueType),
      ),
    );
    await this.#deliveries.run(topic, () =>
      this.#withChannel(`the delayed-publish binding of ${exchangeName(topic)}`, (channel) =>
        bindDelivery(channel, topic),
      ),
    );
  }

  /** Declare the durable queue `name` with `args` on its own channel. */
  #queue(name: string, args: Record<string, unknown>, differs: string | false = 'arguments'): Promise<void> {
    return this.#withChannel(`queue ${name}`, (channel) => assertQueue(channel, name, args), differs);
  }

  /**
   * The group's queue (bound to the exchange with `#`) and its dead-letter queue, and for an ordered
   * group its release ledger. A new group queue gets `x-single-active-consumer` when `ordered`. An
   * existing queue is accepted with either mode, except that an ordered subscription cannot use a
   * queue declared for competing consumers, and a `strict` call (a `declare` that named `ordered`)
   * accepts only the mode it asks for. Resolves with the mode the queue has.
   *
   * @throws CarrierError `TOPOLOGY_CONFLICT` when existing queues have other arguments (another queue
   *   type, say), when `ordered` is asked of a competing-consumers queue, or when a `strict`
   *   unordered call meets an ordered one; `CONNECTION` when the declaration failed otherwise.
   */
  async group(topic: string, group: string, ordered: boolean, strict = false): Promise<GroupMode> {
    await this.exchange(topic);
    const queue = groupQueueName(topic, group);
    const mode = await this.#groups.run(queue, async () => {
      const actual = await this.#groupQueue(topic, group, ordered);
      await this.#queue(deadLetterQueueName(topic, group), queueArguments(this.queueType, false));
      if (actual === 'ordered') await this.#releaseLedger(topic, group);
      return actual;
    });
    if (ordered && mode !== 'ordered') {
      throw rabbitError(
        'TOPOLOGY_CONFLICT',
        `group ${group} of ${topic} was created for competing consumers (queue ${queue} has no x-single-active-consumer); an ordered subscription needs a new group or the queue deleted`,
      );
    }
    if (strict && !ordered && mode === 'ordered') {
      throw rabbitError(
        'TOPOLOGY_CONFLICT',
        `group ${group} of ${topic} was created ordered (queue ${queue} has x-single-active-consumer); it cannot be declared with ordered: false`,
      );
    }
    return mode;
  }

  /** Declare the group queue in the mode asked for, else in the other one; resolves with the mode it has. */
  async #groupQueue(topic: string, group: string, ordered: boolean): Promise<GroupMode> {
    const first: GroupMode = ordered ? 'ordered' : 'competing';
    const other: GroupMode = ordered ? 'competing' : 'ordered';
    try {
      await this.#declareGroupQueue(topic, group, first);
      return first;
    } catch (error) {
      if (!(error instanceof Conflict)) throw error;
      try {
        await this.#declareGroupQueue(topic, group, other);
        return other;
      } catch (again) {
        if (!(again instanceof Conflict)) throw again;
        throw rabbitError(
          'TOPOLOGY_CONFLICT',
          `queue ${groupQueueName(topic, group)} exists with arguments Carrier did not set (queue type ${this.queueType} expected): ${error.message}`,
          error,
        );
      }
    }
  }

  /** The release ledger of an ordered group (see `release-ledger.ts`); records expire after a week. */
  #releaseLedger(topic: string, group: string): Promise<void> {
    return this.#queue(releaseLedgerName(topic, group), {
      ...queueArguments(this.queueType, false),
      'x-message-ttl': RELEASE_RECORD_TTL_MS,
    });
  }

  /** The group queue in `mode`, bound to the exchange; rejects with {@link Conflict} on a 406. */
  async #declareGroupQueue(topic: string, group: string, mode: GroupMode): Promise<void> {
    const queue = groupQueueName(topic, group);
    const args = groupQueueArguments(this.queueType, mode === 'ordered', deadLetterQueueName(topic, group));
    await this.#withChannel(
      `queue ${queue}`,
      async (channel) => {
        await assertQueue(channel, queue, args);
        await channel.bindQueue(queue, exchangeName(topic), '#');
      },
      false,
    );
  }

  /** The group's delay queue for `levelMs` (see `delay.ts`). */
  delayQueue(topic: string, group: string, levelMs: number): Promise<void> {
    const name = delayQueueName(topic, group, levelMs);
    return this.#queues.run(name, () =>
      this.#queue(name, delayQueueArguments(this.queueType, levelMs, groupQueueName(topic, group))),
    );
  }
}

/** Assert a durable, non-exclusive queue that is never deleted by itself. */
async function assertQueue(channel: Channel, name: string, args: Record<string, unknown>): Promise<void> {
  const options: Options.AssertQueue = {
    durable: true,
    exclusive: false,
    autoDelete: false,
    arguments: args,
  };
  await channel.assertQueue(name, options);
}
