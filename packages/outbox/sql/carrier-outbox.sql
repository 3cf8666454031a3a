-- Carrier transactional outbox and idempotent inbox (@carrier/outbox), PostgreSQL 13 or later.
--
-- Applied by `migrate(pool, options)`, which replaces the placeholders with validated, quoted
-- names: {{schema}} (default carrier), {{outbox}} (default outbox), {{inbox}} (default inbox),
-- {{dead_letter}} (default outbox_dead_letter: the outbox table's name and _dead_letter),
-- {{outbox_partition_index}} and {{inbox_handled_at_index}} (index names derived from the table
-- names). Every statement is idempotent (IF NOT EXISTS); `migrate` runs the whole file in one
-- transaction under a transaction-level advisory lock, so several processes may apply it at once.
-- To apply it by hand, replace the placeholders yourself (psql: sed, or copy and edit).

CREATE SCHEMA IF NOT EXISTS {{schema}};

-- Outbox: one row per message, the complete wire message written in the application's own
-- transaction by `outbox.publish`. The relay publishes eligible rows (xid below the xmin of a
-- current snapshot: no older transaction can still commit a row before them) in seq order per
-- key, and deletes each row only after the broker confirmed it.
CREATE TABLE IF NOT EXISTS {{schema}}.{{outbox}} (
  -- insert order; per key, the relay publishes rows in this order
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- the inserting transaction (eligibility: published once below pg_snapshot_xmin)
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  topic text NOT NULL,
  message_id text NOT NULL,
  key text,
  -- user headers (string to string)
  headers jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- Carrier's metadata (correlation id, trace context, schema id, ...), absent when none
  metadata jsonb,
  content_type text NOT NULL,
  -- the encoded body, published as it is (never re-encoded)
  body bytea NOT NULL,
  -- when `outbox.publish` was called (Carrier's publish time, set at insert)
  published_at timestamptz NOT NULL,
  -- the relay's unit of work and of ownership: 16 key-hash partitions, each worked by one relay
  -- at a time (session advisory lock); rows without a key hash their message id
  partition smallint GENERATED ALWAYS AS ((hashtext(coalesce(key, message_id)) & 15)::smallint) STORED
);

CREATE INDEX IF NOT EXISTS {{outbox_partition_index}} ON {{schema}}.{{outbox}} (partition, seq);

-- Outbox dead letters: rows the broker can never accept (a permanent publish error: invalid
-- name or argument, message too large). The relay moves such a row here in one statement
-- (DELETE ... RETURNING feeding an INSERT) and goes on with its key's next row, so nothing is
-- stuck silently. `redriveOutboxDeadLetters` moves rows back into the outbox (with a new seq:
-- after the rows of their key already there).
CREATE TABLE IF NOT EXISTS {{schema}}.{{dead_letter}} (
  -- the row's seq in the outbox
  seq bigint PRIMARY KEY,
  xid xid8 NOT NULL,
  topic text NOT NULL,
  message_id text NOT NULL,
  key text,
  headers jsonb NOT NULL,
  metadata jsonb,
  content_type text NOT NULL,
  body bytea NOT NULL,
  published_at timestamptz NOT NULL,
  -- the CarrierError code of the publish failure (for example MESSAGE_TOO_LARGE)
  error_code text NOT NULL,
  -- the failure's message
  reason text NOT NULL,
  dead_lettered_at timestamptz NOT NULL DEFAULT now()
);

-- Inbox: one row per (consumer group, message id) a handler has handled, written in the
-- handler's own transaction; a redelivered message finds its row and is acknowledged without
-- running the handler again. Rows older than the longest redelivery window may be pruned.
CREATE TABLE IF NOT EXISTS {{schema}}.{{inbox}} (
  consumer_group text NOT NULL,
  message_id text NOT NULL,
  handled_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, message_id)
);

CREATE INDEX IF NOT EXISTS {{inbox_handled_at_index}} ON {{schema}}.{{inbox}} (handled_at);
