import { pruneInbox } from '@carrier/outbox';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createInboxSchema, dropSchema, freshSchema, inboxRows, testPool } from './inbox-test-support.js';

// pruneInbox on a real PostgreSQL server: removes the records older than olderThanMs (by the
// database's clock), only those of the group when one is given, in batches, and counts them.

let pool: pg.Pool;
let schema: string;
beforeAll(() => {
  pool = testPool();
});
afterAll(() => pool.end());
beforeEach(async () => {
  schema = freshSchema('prune');
  await createInboxSchema(pool, schema);
});
afterEach(() => dropSchema(pool, schema));

/** `count` records of `group`, handled `ageMs` ago. */
async function records(group: string, prefix: string, count: number, ageMs: number): Promise<void> {
  await pool.query(
    `INSERT INTO ${schema}.inbox (consumer_group, message_id, handled_at)
     SELECT $1, $2 || i, now() - $3 * interval '1 millisecond' FROM generate_series(1, $4) AS i`,
    [group, prefix, ageMs, count],
  );
}

const DAY = 86_400_000;

describe('pruneInbox', () => {
  it('removes the records older than olderThanMs and keeps the younger ones, returning the count', async () => {
    await records('g', 'old-', 30, 8 * DAY);
    await records('g', 'new-', 5, DAY);
    expect(await pruneInbox(pool, { schema, olderThanMs: 7 * DAY })).toBe(30);
    const left = await inboxRows(pool, schema);
    expect(left.map((r) => r.message_id).sort()).toEqual(['new-1', 'new-2', 'new-3', 'new-4', 'new-5']);
    expect(await pruneInbox(pool, { schema, olderThanMs: 7 * DAY })).toBe(0);
  });

  it('removes only the given group when one is given', async () => {
    await records('billing', 'b-', 4, 8 * DAY);
    await records('shipping', 's-', 6, 8 * DAY);
    expect(await pruneInbox(pool, { schema, olderThanMs: DAY, group: 'billing' })).toBe(4);
    expect((await inboxRows(pool, schema)).every((r) => r.consumer_group === 'shipping')).toBe(true);
    expect(await pruneInbox(pool, { schema, olderThanMs: DAY })).toBe(6);
  });

  it('removes a backlog larger than batchSize in several batches', async () => {
    await records('g', 'old-', 2_503, 2 * DAY);
    expect(await pruneInbox(pool, { schema, olderThanMs: DAY, batchSize: 500 })).toBe(2_503);
    expect(await inboxRows(pool, schema)).toEqual([]);
  });

  it('two prunes at once never count a record twice, and leave nothing a last run does not find', async () => {
    await records('g', 'old-', 5_000, 2 * DAY);
    const counts = await Promise.all([
      pruneInbox(pool, { schema, olderThanMs: DAY, batchSize: 100 }),
      pruneInbox(pool, { schema, olderThanMs: DAY, batchSize: 100 }),
    ]);
    // a batch that met the other's locked rows may stop early: a last run finds what is left
    const rest = await pruneInbox(pool, { schema, olderThanMs: DAY });
    expect(counts[0]! + counts[1]! + rest).toBe(5_000);
    expect(await inboxRows(pool, schema)).toEqual([]);
  });

  it('names the missing table in its error', async () => {
    await expect(pruneInbox(pool, { schema, table: 'nope', olderThanMs: DAY })).rejects.toThrow(/nope/);
  });
});
