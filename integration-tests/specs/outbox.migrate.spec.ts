import { connect } from '@carrier/core';
import { migrate, Outbox } from '@carrier/outbox';
import { describe, expect, it } from 'vitest';
import { freshSchema, inTransaction, testPool } from './postgres-support.js';

describe('outbox migration and publish on PostgreSQL', () => {
  it('creates the tables once when several callers migrate at the same time, and again changes nothing', async () => {
    const pool = testPool();
    const schema = freshSchema('mig');
    try {
      await Promise.all(
        [0, 1, 2, 3].map(() => migrate(pool, { schema, outboxTable: 'events', inboxTable: 'handled' })),
      );
      await migrate(pool, { schema, outboxTable: 'events', inboxTable: 'handled' });
      const { rows } = await pool.query<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
        [schema],
      );
      expect(rows.map((r) => r.table_name)).toEqual(['events', 'events_dead_letter', 'handled']);
      const columns = await pool.query<{ column_name: string }>(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'handled' ORDER BY ordinal_position",
        [schema],
      );
      expect(columns.rows.map((r) => r.column_name)).toEqual(['consumer_group', 'message_id', 'handled_at']);
      const dead = await pool.query<{ column_name: string }>(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'events_dead_letter' ORDER BY ordinal_position",
        [schema],
      );
      expect(dead.rows.map((r) => r.column_name).slice(-3)).toEqual([
        'error_code',
        'reason',
        'dead_lettered_at',
      ]);
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pool.end();
    }
  });

  it('refuses, naming the missing columns, an existing table of the inbox’s name with another shape', async () => {
    const pool = testPool();
    const schema = freshSchema('shape');
    try {
      await pool.query(`CREATE SCHEMA ${schema}`);
      await pool.query(`CREATE TABLE ${schema}.inbox (id bigint PRIMARY KEY, message_id text)`);
      const error = await migrate(pool, { schema }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'TOPOLOGY_CONFLICT' });
      expect((error as Error).message).toContain(`"${schema}"."inbox": consumer_group, handled_at`);
      // nothing was created: the migration rolled back
      const { rows } = await pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1',
        [schema],
      );
      expect(rows[0]!.n).toBe(1);
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pool.end();
    }
  });

  it('refuses an invalid name before touching the database', async () => {
    const pool = testPool();
    try {
      await expect(migrate(pool, { schema: 'Bad-Name' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(pool.totalCount).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it('refuses delayMs and NUL characters without inserting, and the transaction still commits', async () => {
    const pool = testPool();
    const schema = freshSchema('pub');
    const carrier = await connect('memory://');
    try {
      await migrate(pool, { schema });
      const outbox = new Outbox(carrier, { schema });
      await inTransaction(pool, async (tx) => {
        await expect(outbox.publish(tx, 't', 'x', { delayMs: 10 } as never)).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
        });
        await expect(outbox.publish(tx, 't', 'x', { key: 'a\u0000b' })).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
        });
        await expect(outbox.publish(tx, 'bad topic!', 'x')).rejects.toMatchObject({ code: 'INVALID_NAME' });
        await outbox.publish(tx, 't', 'kept', { id: 'kept' });
      });
      const { rows } = await pool.query<{ message_id: string; body: Buffer; partition: number }>(
        `SELECT message_id, body, partition FROM ${schema}.outbox`,
      );
      expect(rows.map((r) => [r.message_id, r.body.toString()])).toEqual([['kept', 'kept']]);
      expect(rows[0]!.partition).toBeGreaterThanOrEqual(0);
      expect(rows[0]!.partition).toBeLessThan(16);
    } finally {
      await carrier.close();
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pool.end();
    }
  });
});
