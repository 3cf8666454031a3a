/**
 * Number of key-hash partitions of an outbox table, fixed by the migration
 * (`hashtext(coalesce(key, message_id)) & 15`): the relay's unit of work and ownership.
 */
export const OUTBOX_PARTITIONS = 16;

/**
 * How many partitions a relay should hold when `members` relays share the outbox: an even share,
 * rounded up (so every partition has an owner; with 16 partitions and 3 relays, 6 + 6 + 4).
 */
export function fairShare(members: number, partitions = OUTBOX_PARTITIONS): number {
  return Math.ceil(partitions / Math.max(1, members));
}

/**
 * The order in which a relay tries to take free partitions: all of them, starting at `start`
 * (each relay starts elsewhere, so relays starting together rarely race for the same ones).
 */
export function claimOrder(start: number, partitions = OUTBOX_PARTITIONS): number[] {
  const first = ((Math.trunc(start) % partitions) + partitions) % partitions;
  return Array.from({ length: partitions }, (_, i) => (first + i) % partitions);
}
