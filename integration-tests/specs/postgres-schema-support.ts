import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { postgresUrl } from './postgres-support.js';

// A schema of one test's own on the specs' PostgreSQL server (postgres-support.ts): specs never
// share tables; each takes a fresh schema and drops it when done.

/** A fresh SQL identifier (`^[a-z_][a-z0-9_]{0,62}$`) for a schema of one test. */
export function freshSchemaName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

/** A schema of the test's own and a pool on the server; `drop()` removes both (call it in finally/afterAll). */
export interface FreshSchema {
  readonly name: string;
  readonly pool: pg.Pool;
  drop(): Promise<void>;
}

/** Creates a fresh schema `prefix_…` on postgresUrl() and a pool of `max` connections. */
export async function freshSchema(prefix: string, max = 10): Promise<FreshSchema> {
  const name = freshSchemaName(prefix);
  const pool = new pg.Pool({ connectionString: postgresUrl(), max });
  pool.on('error', () => {
    // an idle client's connection ended (a PostgreSQL restart in a fault spec): the pool replaces it
  });
  await pool.query(`CREATE SCHEMA ${pg.escapeIdentifier(name)}`);
  let dropped = false;
  return {
    name,
    pool,
    async drop() {
      if (dropped) return;
      dropped = true;
      try {
        await pool.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(name)} CASCADE`);
      } finally {
        await pool.end();
      }
    },
  };
}
