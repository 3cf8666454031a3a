import { createHash } from 'node:crypto';

/** Longest SQS queue name, `.fifo` included. */
export const SQS_MAX_QUEUE_NAME = 80;
/** Longest SNS topic name, `.fifo` included. */
const SNS_MAX_TOPIC_NAME = 256;
/** Suffix AWS requires on FIFO queue and topic names. */
const FIFO_SUFFIX = '.fifo';

/** Separator between the topic part and the group part of a queue name. */
const GROUP_SEPARATOR = '__';
/** Marks a dead-letter queue. `_d` is no escape token, so it cannot come from a portable name. */
const DEAD_LETTER_MARK = '_dlq';
/** Marks a shortened name: `_h` followed by 16 hex digits of SHA-256 of the full name. */
const HASH_MARK = '_h';
const HASH_HEX_DIGITS = 16;

/**
 * Escape a portable Carrier name (letters, digits, `-`, `_`, `.`) into SQS/SNS characters
 * (`[A-Za-z0-9_-]`): `_` becomes `_u` and `.` becomes `_p`. Every `_` of the result starts a
 * two-character token, so the escaped names of different inputs never collide, and `__`
 * (the group separator), `_d` (dead-letter mark) and `_h` (hash mark) never occur inside one.
 */
export function escapeName(name: string): string {
  return name.replace(/[_.]/g, (c) => (c === '_' ? '_u' : '_p'));
}

/** Inverse of {@link escapeName}. */
export function unescapeName(escaped: string): string {
  return escaped.replace(/_([up])/g, (_, c: string) => (c === 'u' ? '_' : '.'));
}

/**
 * Make `base + suffix` fit in `max` characters. Names that fit are returned unchanged; longer ones
 * keep a prefix of `base` (trailing `_` removed so no escape token is cut in half), then `_h` and
 * 16 hex digits of SHA-256 of the whole `base`, then `suffix`. Short names contain no `_h` token,
 * so a shortened name never equals an unshortened one; two shortened names collide only if 64 bits
 * of SHA-256 do.
 */
export function fitName(base: string, suffix: string, max: number): string {
  if (base.length + suffix.length <= max) return base + suffix;
  const digest = createHash('sha256').update(base).digest('hex').slice(0, HASH_HEX_DIGITS);
  const keep = max - suffix.length - HASH_MARK.length - HASH_HEX_DIGITS;
  const prefix = base.slice(0, keep).replace(/_+$/, '');
  return `${prefix}${HASH_MARK}${digest}${suffix}`;
}

/** The AWS resource names Carrier uses for one topic and, optionally, one group. */
export interface NameOptions {
  /** FIFO topics and queues (`.fifo` suffix). */
  readonly fifo: boolean;
}

/** SNS topic of a Carrier topic: the escaped topic name (plus `.fifo`). */
export function snsTopicName(topic: string, options: NameOptions): string {
  return fitName(escapeName(topic), options.fifo ? FIFO_SUFFIX : '', SNS_MAX_TOPIC_NAME);
}

/**
 * SQS queue of a group: `<topic>__<group>` escaped; in queue-only mode (`group` undefined) the
 * topic's single queue `<topic>`.
 */
export function groupQueueName(topic: string, group: string | undefined, options: NameOptions): string {
  const base =
    group === undefined ? escapeName(topic) : `${escapeName(topic)}${GROUP_SEPARATOR}${escapeName(group)}`;
  return fitName(base, options.fifo ? FIFO_SUFFIX : '', SQS_MAX_QUEUE_NAME);
}

/** Dead-letter queue of a group: the group queue's unshortened base plus `_dlq`. */
export function deadLetterQueueName(topic: string, group: string | undefined, options: NameOptions): string {
  const base =
    group === undefined ? escapeName(topic) : `${escapeName(topic)}${GROUP_SEPARATOR}${escapeName(group)}`;
  return fitName(`${base}${DEAD_LETTER_MARK}`, options.fifo ? FIFO_SUFFIX : '', SQS_MAX_QUEUE_NAME);
}

/** Whether a Carrier topic is FIFO: always in FIFO mode, else when its name ends in `.fifo`. */
export function isFifoTopic(topic: string, fifoMode: boolean): boolean {
  return fifoMode || topic.endsWith(FIFO_SUFFIX);
}
