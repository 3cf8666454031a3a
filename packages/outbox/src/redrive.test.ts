import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { type RedriveOptions, redriveOutboxDeadLetters } from './redrive.js';

// a pool on a port nothing listens on: validation must fail before any connection is tried
const pool = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none', max: 1 });
afterEach(() => expect(pool.totalCount).toBe(0));

describe('redriving outbox dead letters', () => {
  it.each([
    ['neither ids nor all', {}],
    ['ids that are not seqs', { ids: ['1', 'x; DROP TABLE outbox'] }],
    ['negative ids', { ids: [-1] }],
    ['ids beyond int8', { ids: ['9223372036854775808'] }],
    ['fractional ids', { ids: [1.5] }],
    ['ids that are not decimal', { ids: ['0x10'] }],
    ['an invalid table name', { all: true, deadLetterTable: 'Bad Name' }],
  ])('refuses %s with INVALID_ARGUMENT before connecting', async (_, options) => {
    await expect(redriveOutboxDeadLetters(pool, options as RedriveOptions)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('reports an unreachable server as CONNECTION', async () => {
    await expect(redriveOutboxDeadLetters(pool, { all: true })).rejects.toMatchObject({ code: 'CONNECTION' });
    await pool.end();
  });
});
