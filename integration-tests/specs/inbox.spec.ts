import { freshName, gate, waitFor } from '@carrier/contract';
import { type Carrier, connect, isCarrierError, type Message } from '@carrier/core';
import { withInbox } from '@carrier/outbox';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import {
  createInboxSchema,
  dropSchema,
  effectCounts,
  freshSchema,
  inboxRows,
  testPool,
  waitForAsync,
} from './inbox-test-support.js';

// withInbox on a real PostgreSQL server, through the memory transport and RabbitMQ: a redelivered
// message does not run the handler again, a failed handler leaves nothing and is retried, every
// group handles an id once, and a duplicate delivered while the first one's transaction is open
// waits for it. The crash between the commit and the acknowledgement is in inbox.crash.spec.ts.

const urls = inject('brokers');
const TRANSPORTS = [
  { label: 'memory', url: () => 'memory://' },
  { label: 'rabbitmq', url: () => urls.rabbitmq },
];
const RETRY = { initialDelayMs: 50, maxDelayMs: 200 };

let pool: pg.Pool;
beforeAll(() => {
  pool = testPool();
});
afterAll(() => pool.end());

/** The handlers' side effect: one row of `effects` per run, in the inbox transaction. */
const recordEffect = (schema: string, group: string) => async (m: Message, client: pg.PoolClient) => {
  await client.query(`INSERT INTO ${schema}.effects (consumer_group, message_id) VALUES ($1, $2)`, [
    group,
    m.id,
  ]);
};

for (const t of TRANSPORTS) {
  describe(`inbox on ${t.label}`, () => {
    let carrier: Carrier;
    let schema: string;
    let topic: string;
    beforeEach(async () => {
      schema = freshSchema();
      topic = freshName('inbox');
      await createInboxSchema(pool, schema);
      carrier = await connect(t.url(), { onError: () => {} });
    });
    afterEach(async () => {
      await carrier.close();
      await dropSchema(pool, schema);
    });

    it('a message delivered again after its commit is acknowledged without running the handler again', async () => {
      const runs: string[] = [];
      const attempts: number[] = [];
      let settledAfterRedelivery = false;
      const effect = recordEffect(schema, 'g');
      const inbox = withInbox(pool, { group: 'g', schema }, async (m, client) => {
        runs.push(m.id);
        await effect(m, client);
      });
      await carrier.subscribe(topic, { group: 'g', retry: RETRY }, async (m) => {
        attempts.push(m.attempt);
        await inbox(m);
        // the acknowledgement of the first delivery is lost after the commit: the broker delivers it again
        if (m.attempt === 1) throw new Error('acknowledgement lost after the commit');
        settledAfterRedelivery = true;
      });
      const { id } = await carrier.publish(topic, 'order 1');
      await waitFor(() => settledAfterRedelivery, 15_000, 'the redelivery to be handled');
      expect(attempts).toEqual([1, 2]);
      expect(runs).toEqual([id]);
      expect(await effectCounts(pool, schema)).toEqual(new Map([[id, 1]]));
      expect(await inboxRows(pool, schema)).toEqual([{ consumer_group: 'g', message_id: id }]);
    });

    it('a handler that throws leaves neither its writes nor the record; the retry runs it and commits once', async () => {
      const runs: number[] = [];
      const seenByRetry: { effects: number; records: number }[] = [];
      const effect = recordEffect(schema, 'g');
      const inbox = withInbox(pool, { group: 'g', schema }, async (m, client) => {
        runs.push(m.attempt);
        if (m.attempt > 1) {
          // what attempt 1 left, seen from another connection (this transaction's rows are not visible there)
          const effects = await pool.query(`SELECT count(*)::int AS n FROM ${schema}.effects`);
          const records = await pool.query(`SELECT count(*)::int AS n FROM ${schema}.inbox`);
          seenByRetry.push({ effects: effects.rows[0].n, records: records.rows[0].n });
        }
        await effect(m, client);
        if (m.attempt === 1) throw new Error('the handler fails after its write');
      });
      let done = false;
      await carrier.subscribe(topic, { group: 'g', retry: RETRY }, async (m) => {
        await inbox(m);
        done = true;
      });
      const { id } = await carrier.publish(topic, 'order 1');
      await waitFor(() => done, 15_000, 'the retry to succeed');
      expect(runs).toEqual([1, 2]);
      expect(seenByRetry).toEqual([{ effects: 0, records: 0 }]);
      expect(await effectCounts(pool, schema)).toEqual(new Map([[id, 1]]));
      expect(await inboxRows(pool, schema)).toEqual([{ consumer_group: 'g', message_id: id }]);
    });

    it('a handler that caught an error of its transaction fails the delivery (INVALID_ARGUMENT): nothing was committed; the retry commits', async () => {
      const effect = recordEffect(schema, 'g');
      const inbox = withInbox(pool, { group: 'g', schema }, async (m, client) => {
        await effect(m, client);
        if (m.attempt === 1) await client.query('SELECT 1/0').catch(() => {}); // the transaction is now aborted
      });
      const outcomes: string[] = [];
      await carrier.subscribe(topic, { group: 'g', retry: RETRY }, async (m) => {
        try {
          await inbox(m);
          outcomes.push('ok');
        } catch (e) {
          outcomes.push(isCarrierError(e) ? e.code : String(e));
          throw e;
        }
      });
      const { id } = await carrier.publish(topic, 'order 1');
      await waitFor(() => outcomes.length === 2, 15_000, 'the failure and the retry');
      expect(outcomes).toEqual(['INVALID_ARGUMENT', 'ok']);
      expect(await effectCounts(pool, schema)).toEqual(new Map([[id, 1]]));
    });

    it('every group handles the same id once, each through its own redelivery', async () => {
      const runs: string[] = [];
      const settled = new Set<string>();
      for (const group of ['billing', 'shipping']) {
        const effect = recordEffect(schema, group);
        const inbox = withInbox(pool, { group, schema }, async (m, client) => {
          runs.push(group);
          await effect(m, client);
        });
        await carrier.subscribe(topic, { group, retry: RETRY }, async (m) => {
          await inbox(m);
          if (m.attempt === 1) throw new Error('acknowledgement lost after the commit');
          settled.add(group);
        });
      }
      const { id } = await carrier.publish(topic, 'order 1');
      await waitFor(() => settled.size === 2, 15_000, 'both groups to handle the redelivery');
      expect(runs.sort()).toEqual(['billing', 'shipping']);
      expect(await effectCounts(pool, schema, 'billing')).toEqual(new Map([[id, 1]]));
      expect(await effectCounts(pool, schema, 'shipping')).toEqual(new Map([[id, 1]]));
      expect(await inboxRows(pool, schema)).toEqual([
        { consumer_group: 'billing', message_id: id },
        { consumer_group: 'shipping', message_id: id },
      ]);
    });

    for (const first of ['commits', 'rolls back'] as const) {
      it(`a duplicate delivered while the first transaction is open waits for it, then ${
        first === 'commits' ? 'skips the handler' : 'runs the handler'
      } (the first ${first})`, async () => {
        const hold = gate();
        const runs: number[] = [];
        const effect = recordEffect(schema, 'g');
        const inbox = withInbox(pool, { group: 'g', schema }, async (m, client) => {
          runs.push(runs.length + 1);
          await effect(m, client);
          if (runs.length === 1) {
            await hold.promise;
            if (first === 'rolls back') throw new Error('the first run fails');
          }
        });
        const outcomes: string[] = [];
        await carrier.subscribe(topic, { group: 'g', concurrency: 2, retry: RETRY }, async (m) => {
          try {
            await inbox(m);
            outcomes.push('ok');
          } catch (e) {
            outcomes.push('failed');
            throw e;
          }
        });
        // the same id twice: two deliveries the group may run at once
        const id = `dup-${topic}`;
        await carrier.publish(topic, 'order 1', { id });
        await carrier.publish(topic, 'order 1', { id });
        await waitFor(() => runs.length === 1, 15_000, 'the first run to start');
        // the second delivery's INSERT blocks on the primary key held by the open transaction
        await waitForAsync(
          async () => {
            const { rows } = await pool.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
              [`%${schema}%inbox%`],
            );
            return rows[0].n === 1;
          },
          15_000,
          'the duplicate to wait on the inbox record',
        );
        expect(runs).toEqual([1]);
        hold.open();
        const expectedOutcomes = first === 'commits' ? ['ok', 'ok'] : ['failed', 'ok', 'ok'];
        await waitFor(
          () => outcomes.length >= expectedOutcomes.length,
          15_000,
          'both deliveries (and the retry) to settle',
        );
        expect(outcomes).toEqual(expectedOutcomes);
        // committed: the duplicate skipped; rolled back: the duplicate ran it, and the retry skipped
        expect(runs).toEqual(first === 'commits' ? [1] : [1, 2]);
        expect(await effectCounts(pool, schema)).toEqual(new Map([[id, 1]]));
        expect(await inboxRows(pool, schema)).toEqual([{ consumer_group: 'g', message_id: id }]);
      });
    }
  });
}
