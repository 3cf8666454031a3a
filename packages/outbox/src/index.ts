/**
 * `@carrier/outbox`: the transactional outbox on PostgreSQL (`Outbox` writes messages in the
 * application's transaction, `OutboxRelay` publishes the committed ones to any Carrier
 * transport) and the idempotent inbox, with the migration that creates their tables.
 *
 * @packageDocumentation
 */

export { type InboxHandler, type InboxOptions, withInbox } from './inbox.js';
export { DEFAULT_INBOX_SCHEMA, type InboxTableOptions } from './inbox-table.js';
export { type MigrationPool, migrate, migrationSql } from './migrate.js';
export {
  checkIdentifier,
  DEAD_LETTER_SUFFIX,
  DEFAULT_INBOX_TABLE,
  DEFAULT_OUTBOX_TABLE,
  DEFAULT_SCHEMA,
  IDENTIFIER,
  notifyChannel,
  type ResolvedNames,
  resolveNames,
  type TableNames,
} from './names.js';
export {
  Outbox,
  type OutboxEntry,
  type OutboxOptions,
  type OutboxPublishOptions,
  type OutboxTransaction,
} from './outbox.js';
export { fairShare, OUTBOX_PARTITIONS } from './partitions.js';
export { DEFAULT_PRUNE_BATCH_SIZE, MAX_OLDER_THAN_MS, type PruneInboxOptions, pruneInbox } from './prune.js';
export { type RedriveOptions, type RedrivePool, redriveOutboxDeadLetters } from './redrive.js';
export { OutboxRelay, type OutboxRelayOptions, type OutboxRelayStats } from './relay.js';
