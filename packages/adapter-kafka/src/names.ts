/**
 * Kafka names of Carrier's objects. Portable topic and group names never contain `..` (core rejects
 * them), so `..` separates the parts: no Carrier-made name can equal a user topic, and no two
 * (topic, group) pairs map to the same name. Portable names are already legal Kafka names
 * (letters, digits, `.`, `_`, `-`; at most 100 characters, so derived names stay far below 249);
 * a Carrier topic is the Kafka topic of the same name.
 */

/** The per-group retry topic: `<topic>..<group>.retry`. Only that group's consumers read it. */
export function retryTopic(topic: string, group: string): string {
  return `${topic}..${group}.retry`;
}

/** The per-group dead-letter topic: `<topic>..<group>.dlq`. */
export function deadLetterTopic(topic: string, group: string): string {
  return `${topic}..${group}.dlq`;
}

/** The consumer group id of a Carrier group on a topic: `<topic>..<group>` (reads the topic and its retry topic). */
export function consumerGroupId(topic: string, group: string): string {
  return `${topic}..${group}`;
}

/** The consumer group id that reads (and redrives) a group's dead letters: `<topic>..<group>..dlq`. */
export function deadLetterGroupId(topic: string, group: string): string {
  return `${topic}..${group}..dlq`;
}

/**
 * The topic's delay topic: `<topic>..delay` (delayed publish, see `publish-delay.ts`). No group's
 * topics can have this name: theirs end in `.retry` or `.dlq`.
 */
export function delayTopic(topic: string): string {
  return `${topic}..delay`;
}

/**
 * The consumer group that moves a topic's delayed messages when due: `<topic>..delay..mover`
 * (a group's id is `<topic>..<group>` and a portable group name never contains `..`).
 */
export function delayMoverGroupId(topic: string): string {
  return `${topic}..delay..mover`;
}
