import { freshName, waitFor } from '@carrier/contract';
import { connect, type Message } from '@carrier/core';
import { migrate, Outbox } from '@carrier/outbox';
import { describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { spawnRelay } from './outbox-relay-child.js';
import { freshSchema, inTransaction, postgresUrl, testPool } from './postgres-support.js';

// The standalone relay process against NATS: SIGKILLed while it publishes, a second process takes
// over; every committed message arrives, no rolled-back one, each key's messages in order. NATS
// drops a republished id within its duplicate window (the relay keeps message ids), so the
// duplicates printed here are those that got past it.
describe('outbox relay process', () => {
  it('loses nothing across a SIGKILL of the relay and keeps per-key order', async () => {
    const url = inject('brokers').nats;
    const pool = testPool();
    const schema = freshSchema();
    const carrier = await connect(url);
    const relays: ReturnType<typeof spawnRelay>[] = [];
    try {
      await migrate(pool, { schema });
      const outbox = new Outbox(carrier, { schema });
      const topic = freshName('outbox-proc');
      await carrier.declare(topic, ['g']);
      const received: Message[] = [];
      await carrier.subscribe(topic, { group: 'g', concurrency: 1, ordered: false }, (m) => {
        received.push(m);
      });
      relays.push(spawnRelay(url, postgresUrl(), schema));
      await relays[0]!.ready;
      const committed = new Set<string>();
      const rolledBack = new Set<string>();
      const keys = 10;
      let n = 0;
      const write = async (transactions: number) => {
        for (let t = 0; t < transactions; t++) {
          const rollback = t % 10 === 3;
          const entries = Array.from({ length: 10 }, () => {
            const i = n++;
            return { topic, body: { key: `k${i % keys}`, i }, key: `k${i % keys}`, id: `m-${i}` };
          });
          try {
            await inTransaction(pool, async (tx) => {
              await outbox.publishBatch(tx, entries);
              if (rollback) throw new Error('rolled back on purpose');
            });
            for (const e of entries) committed.add(e.id);
          } catch {
            for (const e of entries) rolledBack.add(e.id);
          }
        }
      };
      const writing = write(60);
      await waitFor(() => received.length >= 50, 20_000, 'the first messages');
      await relays[0]!.kill(); // while the writes go on
      relays.push(spawnRelay(url, postgresUrl(), schema));
      await relays[1]!.ready;
      await writing;
      const ids = () => new Set(received.map((m) => m.id));
      await waitFor(() => [...committed].every((id) => ids().has(id)), 30_000, 'every committed message');
      expect(received.filter((m) => rolledBack.has(m.id))).toEqual([]);
      // per key, the first arrival of each message follows the write order
      const firsts = new Map<string, number[]>();
      const seen = new Set<string>();
      for (const m of received) {
        if (seen.has(m.id)) continue;
        seen.add(m.id);
        const body = m.body as { key: string; i: number };
        firsts.set(body.key, [...(firsts.get(body.key) ?? []), body.i]);
      }
      for (const list of firsts.values()) expect(list).toEqual([...list].sort((a, b) => a - b));
      console.log(
        `outbox relay process: ${committed.size} committed, ${rolledBack.size} rolled back, ${received.length - committed.size} duplicates after one SIGKILL`,
      );
      expect(await relays[1]!.stop()).toBe(0);
    } finally {
      await Promise.allSettled(relays.map((r) => r.kill()));
      await carrier.close();
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pool.end();
    }
  }, 120_000);
});
