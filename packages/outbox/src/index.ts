// The public surface of @carrier/outbox: the idempotent inbox (`withInbox`, `pruneInbox`) and
// their option types. Internals (name checks) are imported by file.
export { type InboxHandler, type InboxOptions, withInbox } from './inbox.js';
export { DEFAULT_INBOX_SCHEMA, DEFAULT_INBOX_TABLE, type InboxTableOptions } from './inbox-table.js';
export { DEFAULT_PRUNE_BATCH_SIZE, type PruneInboxOptions, pruneInbox } from './prune.js';
