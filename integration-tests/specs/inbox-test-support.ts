import { randomBytes } from 'node:crypto';
import { migrate } from '@carrier/outbox';
import pg from 'pg';
import { postgresUrl } from './postgres-support.js';

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

/** A fresh schema name (`inbox_<time>_<random>`), a valid SQL identifier. */
export function freshSchema(prefix = 'inbox'): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** A pool on the specs' PostgreSQL server. */
export function testPool(max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: postgresUrl(), max, connectionTimeoutMillis: 10_000 });
  pool.on('error', () => {}); // an idle client whose backend went away; the next query reports it
  return pool;
}

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

/** Wait until `condition` resolves true, polling every 20 ms, for at most `timeoutMs`. */
export async function waitForAsync(
  condition: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
