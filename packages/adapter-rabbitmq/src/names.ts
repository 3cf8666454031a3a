/**
 * Names of the broker objects Carrier creates. Portable topic and group names never contain `:`
 * (see `validateName` in core), so joining them with `:` cannot make two different
 * (topic, group) pairs collide, and the `carrier:` prefix keeps clear of `amq.` (reserved by
 * RabbitMQ) and of applications' own exchanges and queues. The longest name (100-character topic
 * and group, longest delay level) stays under AMQP's 255-byte limit.
 */

/** Prefix of every exchange and queue Carrier declares. */
const NAME_PREFIX = 'carrier';

/** The durable topic exchange of a topic: `carrier:<topic>`. */
export function exchangeName(topic: string): string {
  return `${NAME_PREFIX}:${topic}`;
}

/** The durable queue of a group, bound to the topic's exchange with `#`: `carrier:<topic>:<group>`. */
export function groupQueueName(topic: string, group: string): string {
  return `${NAME_PREFIX}:${topic}:${group}`;
}

/** The group's dead-letter queue: `carrier:<topic>:<group>:dlq`. */
export function deadLetterQueueName(topic: string, group: string): string {
  return `${groupQueueName(topic, group)}:dlq`;
}

/** The group's delay queue for one delay level (ms): `carrier:<topic>:<group>:retry:<levelMs>`. */
export function delayQueueName(topic: string, group: string, levelMs: number): string {
  return `${groupQueueName(topic, group)}:retry:${levelMs}`;
}

/**
 * The release ledger of an ordered group (see `release-ledger.ts`):
 * `carrier:<topic>:<group>:releases`.
 */
export function releaseLedgerName(topic: string, group: string): string {
  return `${groupQueueName(topic, group)}:releases`;
}
