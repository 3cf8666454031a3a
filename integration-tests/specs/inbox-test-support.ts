import { migrate } from '@carrier/outbox';
import type pg from 'pg';
import { freshSchema as freshSchemaName } from './postgres-support.js';

// Shared with the outbox specs (postgres-support.ts).
export { testPool, waitUntil as waitForAsync } from './postgres-support.js';

// Shared setup of the inbox specs (inbox*.spec.ts): a fresh schema per test with the inbox table
// and an `effects` table the handlers write to, and queries over them.
// The inbox table comes from the package's own migration (`migrate`, sql/carrier-outbox.sql).

/**
 * The side effect the specs' handlers write: one row per handler run (no unique key, so a second
 * run of a handler for the same message shows as a second row).
 */
const EFFECTS_DDL = (schema: string) => `
CREATE TABLE ${schema}.effects (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  consumer_group text NOT NULL,
  message_id text NOT NULL
);`;

/** Create `schema` with the inbox table and the `effects` table. */
export async function createInboxSchema(pool: pg.Pool, schema: string): Promise<void> {
  await migrate(pool, { schema });
  await pool.query(EFFECTS_DDL(schema));
}

/** Drop `schema` and everything in it. */
export async function dropSchema(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

/** Handler runs recorded in `effects`, per message id (of `group`, or of all groups). */
export async function effectCounts(
  pool: pg.Pool,
  schema: string,
  group?: string,
): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ message_id: string; n: string }>(
    `SELECT message_id, count(*) AS n FROM ${schema}.effects WHERE $1::text IS NULL OR consumer_group = $1 GROUP BY message_id`,
    [group ?? null],
  );
  return new Map(rows.map((r) => [r.message_id, Number(r.n)]));
}

/** Rows of the inbox table (of `group`, or of all groups). */
export async function inboxRows(
  pool: pg.Pool,
  schema: string,
  group?: string,
): Promise<{ consumer_group: string; message_id: string }[]> {
  const { rows } = await pool.query<{ consumer_group: string; message_id: string }>(
    `SELECT consumer_group, message_id FROM ${schema}.inbox WHERE $1::text IS NULL OR consumer_group = $1 ORDER BY 1, 2`,
    [group ?? null],
  );
  return rows;
}

/** A fresh schema name (`inbox_<time>_<random>` by default), a valid SQL identifier. */
export function freshSchema(prefix = 'inbox'): string {
  return freshSchemaName(prefix);
}
