import type { Channel } from 'amqplib';
import { exchangeName } from './names.js';
import type { QueueType } from './url.js';

/**
 * Delayed publish without a plugin: a ladder of delay queues shared by every topic of the virtual
 * host, one queue per power of two of milliseconds (level k: `x-message-ttl` 2^k ms, k = 0…31).
 * RabbitMQ expires messages only at a queue's head, so one queue cannot hold messages with
 * different delays; a queue whose messages all have the same TTL expires them in arrival order,
 * each exactly on time.
 *
 * A delay is written in binary: the routing key spells its 32 digits as words (`0`/`1`, level 31
 * first). Each level has a topic exchange: a message whose digit of that level is 1 goes to the
 * level's queue, which dead-letters it on expiry (routing key kept) to the exchange of the level
 * below; a 0 passes straight to that exchange (exchange-to-exchange binding). The message is
 * published to the exchange of its highest 1 digit and waits in the queue of each 1 digit, so it
 * spends exactly its delay in queues (plus a few ms per hop) and is never early. Below level 0 a
 * headers exchange (the delivery exchange) routes it by its `carrier-delay-topic` header to the
 * topic's exchange, which fans it out to the groups bound at that moment.
 *
 * Quorum ladders dead-letter at-least-once (`x-dead-letter-strategy`, which needs
 * `x-overflow: reject-publish`): a message leaves a level only once the next one has it. Classic
 * queues dead-letter at-most-once (RabbitMQ's rule). No Carrier process is involved once the
 * publish is confirmed.
 */

/** Number of levels: delays up to 2^32 − 1 ms (about 49.7 days). */
export const PUBLISH_DELAY_LEVELS = 32;
/** Longest delayed publish, in ms: every digit of the ladder set. */
export const MAX_PUBLISH_DELAY_MS = 2 ** PUBLISH_DELAY_LEVELS - 1;
/**
 * How late a delayed message reaches a running consumer at most, in ms
 * (`capabilities.publishDelayPrecisionMs`): each hop (an expiry and a dead-lettering) adds a few
 * ms, at most 32 hops; measured on a loaded 2-core machine: up to 300 ms (docs/brokers/rabbitmq.md).
 */
export const PUBLISH_DELAY_PRECISION_MS = 1_000;
/** Header naming the Carrier topic of a delayed message (the delivery exchange routes on it). */
export const DELAY_TOPIC_HEADER = 'carrier-delay-topic';
/**
 * The delivery exchange (headers type) below level 0. Names of the ladder start with `carrier::`:
 * a portable topic is never empty, so no Carrier exchange or queue of a topic can have these names.
 */
export const DELAY_DELIVERY_EXCHANGE = 'carrier::delay';

/** Exchange and queue (same name) of ladder level `level` for `queueType`: `carrier::delay:<type>:<level>`. */
export function delayLadderName(queueType: QueueType, level: number): string {
  return `${DELAY_DELIVERY_EXCHANGE}:${queueType}:${level}`;
}

/** The delay as the routing key of the ladder: 32 words `0`/`1`, level 31 first. */
export function delayRoutingKey(delayMs: number): string {
  return Math.floor(delayMs).toString(2).padStart(PUBLISH_DELAY_LEVELS, '0').split('').join('.');
}

/** The level a delay enters the ladder at: its highest 1 digit (`delayMs` ≥ 1). */
export function entryLevel(delayMs: number): number {
  return Math.floor(Math.log2(Math.floor(delayMs)));
}

/** Where a delayed message is published: the exchange of its entry level and its routing key. */
export function delayRoute(queueType: QueueType, delayMs: number): { exchange: string; routingKey: string } {
  return { exchange: delayLadderName(queueType, entryLevel(delayMs)), routingKey: delayRoutingKey(delayMs) };
}

/** Binding key of level `level` matching the messages whose digit of that level is `digit`. */
function levelPattern(level: number, digit: '0' | '1'): string {
  const words: string[] = [];
  for (let i = PUBLISH_DELAY_LEVELS - 1; i >= 0; i--) words.push(i === level ? digit : '*');
  return words.join('.');
}

/** Arguments of the level's queue: its TTL, and dead-lettering (routing key kept) to the level below. */
function levelQueueArguments(queueType: QueueType, level: number): Record<string, unknown> {
  const args: Record<string, unknown> = {
    'x-message-ttl': 2 ** level,
    'x-dead-letter-exchange': level === 0 ? DELAY_DELIVERY_EXCHANGE : delayLadderName(queueType, level - 1),
  };
  if (queueType === 'quorum') {
    args['x-queue-type'] = 'quorum';
    args['x-dead-letter-strategy'] = 'at-least-once';
    args['x-overflow'] = 'reject-publish';
  }
  return args;
}

/**
 * Declare the whole ladder of `queueType` on `channel` (idempotent): the delivery exchange, and per
 * level its exchange, its queue and the two bindings. A 406 (an object exists with other
 * arguments) closes the channel and rejects.
 */
export async function declareLadder(channel: Channel, queueType: QueueType): Promise<void> {
  const durable = { durable: true, autoDelete: false, internal: false };
  const levels = [...Array(PUBLISH_DELAY_LEVELS).keys()];
  // pipelined: amqplib sends each method when the previous one is answered, without a round trip here
  await Promise.all([
    channel.assertExchange(DELAY_DELIVERY_EXCHANGE, 'headers', durable),
    ...levels.map((level) => channel.assertExchange(delayLadderName(queueType, level), 'topic', durable)),
  ]);
  await Promise.all(
    levels.map((level) =>
      channel.assertQueue(delayLadderName(queueType, level), {
        durable: true,
        exclusive: false,
        autoDelete: false,
        arguments: levelQueueArguments(queueType, level),
      }),
    ),
  );
  await Promise.all(
    levels.flatMap((level) => {
      const name = delayLadderName(queueType, level);
      const below = level === 0 ? DELAY_DELIVERY_EXCHANGE : delayLadderName(queueType, level - 1);
      return [
        channel.bindQueue(name, name, levelPattern(level, '1')),
        channel.bindExchange(below, name, levelPattern(level, '0')),
      ];
    }),
  );
}

/** Bind the topic's exchange to the delivery exchange for the messages of `topic`. */
export async function bindDelivery(channel: Channel, topic: string): Promise<void> {
  await channel.bindExchange(exchangeName(topic), DELAY_DELIVERY_EXCHANGE, '', {
    'x-match': 'all',
    [DELAY_TOPIC_HEADER]: topic,
  });
}
