import { createHash } from 'node:crypto';

/**
 * How portable Carrier names map onto JetStream stream names, consumer names and subjects.
 *
 * Portable names (see `validateName` in `@carrier/core`) use ASCII letters, digits, `-`, `_` and
 * single `.`. JetStream stream and consumer names must not contain `.` and subjects use `.` as the
 * token separator, so names are escaped with {@link escapeName}: `_` becomes `__` and `.` becomes
 * `_D`. The escape is injective (decoding left to right is unambiguous), its output is a single
 * subject token of `[A-Za-z0-9_-]`, and it never starts with `_` because portable names start with
 * a letter or digit. Every object name below is a fixed prefix plus escaped names, with prefixes
 * chosen so that no two kinds of object can ever share a name or overlap in subjects.
 */

/** Escape a portable name into one JetStream-safe token: `_` → `__`, `.` → `_D`. Injective. */
export function escapeName(name: string): string {
  let out = '';
  for (const ch of name) {
    if (ch === '_') out += '__';
    else if (ch === '.') out += '_D';
    else out += ch;
  }
  return out;
}

/** The inverse of {@link escapeName}; throws on input that escapeName cannot produce. */
export function unescapeName(token: string): string {
  let out = '';
  for (let i = 0; i < token.length; i++) {
    const ch = token[i]!;
    if (ch !== '_') {
      out += ch;
      continue;
    }
    const next = token[i + 1];
    if (next === '_') out += '_';
    else if (next === 'D') out += '.';
    else throw new Error(`not an escaped name: ${token}`);
    i++;
  }
  return out;
}

/** Stream holding every message of `topic` (and its groups' redriven messages): `CARRIER_<escaped topic>`. */
export function topicStream(topic: string): string {
  return `CARRIER_${escapeName(topic)}`;
}

/**
 * Stream holding the dead letters of every group of `topic`: `CARRIER-DLQ_<escaped topic>`.
 * The prefixes `CARRIER_` and `CARRIER-` differ in their 8th character, so a topic stream and a
 * dead-letter stream never share a name.
 */
export function deadLetterStream(topic: string): string {
  return `CARRIER-DLQ_${escapeName(topic)}`;
}

/** Subject every publish to `topic` goes to: `carrier.<topic>` (the portable name verbatim). */
export function topicSubject(topic: string): string {
  return `carrier.${topic}`;
}

/** Subject of messages redriven to one group only: `carrier-redrive.<escaped topic>.<escaped group>`. */
export function redriveSubject(topic: string, group: string): string {
  return `carrier-redrive.${escapeName(topic)}.${escapeName(group)}`;
}

/** Wildcard of all redrive subjects of `topic`, bound to the topic's stream. */
export function redriveWildcard(topic: string): string {
  return `carrier-redrive.${escapeName(topic)}.*`;
}

/** Subject of one group's dead letters: `carrier-dlq.<escaped topic>.<escaped group>`. */
export function deadLetterSubject(topic: string, group: string): string {
  return `carrier-dlq.${escapeName(topic)}.${escapeName(group)}`;
}

/** Wildcard of all dead-letter subjects of `topic`, bound to the dead-letter stream. */
export function deadLetterWildcard(topic: string): string {
  return `carrier-dlq.${escapeName(topic)}.*`;
}

/**
 * Subject of the pending schedule of one delayed message (docs/brokers/nats.md, "Delayed publish"):
 * `carrier-schedule.<escaped topic>.<hex>`, where `<hex>` is the first 128 bits of the SHA-256 of
 * the message id (an id may hold any character; a subject token may not). One subject per pending
 * schedule, as the server requires (a new schedule on a subject replaces the one pending there):
 * a delayed publish of the same id to the same topic replaces the pending one.
 */
export function scheduleSubject(topic: string, id: string): string {
  const hex = createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 32);
  return `carrier-schedule.${escapeName(topic)}.${hex}`;
}

/** Wildcard of all schedule subjects of `topic`, bound to the topic's stream once it schedules. */
export function scheduleWildcard(topic: string): string {
  return `carrier-schedule.${escapeName(topic)}.*`;
}

/**
 * Durable consumer of a topic stream with interest retention that keeps its pending schedules
 * stored: the server drops a message no consumer's filter matches. It never fetches. Escaped names
 * never start with `_`, so no group's consumer can have this name.
 */
export const SCHEDULES_CONSUMER = '_carrier-schedules';

/** Durable consumer name of `group`, in the topic stream and in the dead-letter stream alike. */
export function consumerName(group: string): string {
  return escapeName(group);
}

/**
 * Stream of release records (see docs in the README, "Attempts"): one subject per released
 * delivery, last value kept. Its prefix `CARRIER-RELEASES` is neither `CARRIER_` nor `CARRIER-DLQ_`.
 */
export const RELEASES_STREAM = 'CARRIER-RELEASES';

/** Subjects of every release record, bound to {@link RELEASES_STREAM}. */
export const RELEASES_WILDCARD = 'carrier-releases.>';

/** Subject of the release record of one stream message in one group: `carrier-releases.<stream>.<consumer>.<seq>`. */
export function releaseSubject(stream: string, consumer: string, seq: number): string {
  return `carrier-releases.${stream}.${consumer}.${seq}`;
}
