import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * The PostgreSQL server of the integration specs: `CARRIER_TEST_POSTGRES_URL`. Throws a clear
 * error when it is unset, so a spec never silently runs against nothing.
 */
export function postgresUrl(): string {
  const url = process.env.CARRIER_TEST_POSTGRES_URL;
  if (!url) {
    throw new Error(
      'CARRIER_TEST_POSTGRES_URL is not set: the outbox specs need a PostgreSQL server (e.g. postgres://carrier@127.0.0.1:55432/postgres)',
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
  const pool = new pg.Pool({ connectionString: postgresUrl(), max });
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
