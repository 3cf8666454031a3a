import { randomBytes } from 'node:crypto';
import pg from 'pg';

// PostgreSQL for the outbox/inbox specs. For now the server comes from CARRIER_TEST_POSTGRES_URL
// (e.g. the development server postgres://carrier@127.0.0.1:55432/postgres); once the harness
// starts PostgreSQL like the brokers, postgresUrl() reads the run's URL from it instead. Specs
// never share tables: each takes a fresh schema (freshSchema) and drops it when done.

/** The URL of the PostgreSQL server the specs use (a superuser or a role that may CREATE SCHEMA). */
export function postgresUrl(): string {
  const url = process.env.CARRIER_TEST_POSTGRES_URL;
  if (!url) {
    throw new Error(
      'CARRIER_TEST_POSTGRES_URL is not set: the outbox specs need a PostgreSQL server ' +
        '(e.g. CARRIER_TEST_POSTGRES_URL=postgres://carrier@127.0.0.1:55432/postgres)',
    );
  }
  return url;
}

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
