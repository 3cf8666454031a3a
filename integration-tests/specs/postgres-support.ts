import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/**
 * The PostgreSQL server of the integration specs: the harness's (`inject('postgres')`: a local
 * process, a container, or `CARRIER_TEST_POSTGRES_URL`; see README.md, "PostgreSQL"). Throws a
 * clear error when this run did not start one (`CARRIER_TEST_ONLY` without `postgres`), so a spec
 * never silently runs against nothing.
 */
export function postgresUrl(): string {
  const url = inject('postgres');
  if (!url || url.startsWith('not-started://')) {
    throw new Error(
      'this run has no PostgreSQL: add `postgres` to CARRIER_TEST_ONLY (or set CARRIER_TEST_POSTGRES_URL)',
    );
  }
  return url;
}

/** A fresh schema name (a valid identifier), unique per call. */
export function freshSchema(prefix = 'ob'): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** A pool on the test server; the caller ends it. */
export function testPool(max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: postgresUrl(), max, connectionTimeoutMillis: 10_000 });
  pool.on('error', () => {}); // a terminated idle client must not crash the run
  return pool;
}

/** Run `work` in a transaction on a client of `pool`: COMMIT when it resolves, ROLLBACK when it throws. */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** Resolves once `condition` resolves true (checked every 20 ms); throws after `timeoutMs`. */
export async function waitUntil(
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
