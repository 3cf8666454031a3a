import { freshName, waitFor } from '@carrier/contract';
import { type Carrier, connect, type Message } from '@carrier/core';
import {
  migrate,
  Outbox,
  OutboxRelay,
  type OutboxRelayOptions,
  redriveOutboxDeadLetters,
} from '@carrier/outbox';
import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freshSchema, inTransaction, postgresUrl, testPool, waitUntil } from './postgres-support.js';

// The outbox relay against a real PostgreSQL server (the harness's, `inject('postgres')`) and the memory
// transport: every test has its own schema, topic and group.

interface Setup {
  pool: pg.Pool;
  carrier: Carrier;
  schema: string;
  topic: string;
  outbox: Outbox;
  received: Message[];
  relays: OutboxRelay[];
  errors: Error[];
}

let s: Setup;

beforeEach(async () => {
  const pool = testPool();
  const schema = freshSchema();
  await migrate(pool, { schema });
  const carrier = await connect('memory://');
  const topic = freshName('outbox');
  const received: Message[] = [];
  await carrier.subscribe(topic, { group: 'g', concurrency: 16 }, (message) => {
    received.push(message);
  });
  s = {
    pool,
    carrier,
    schema,
    topic,
    outbox: new Outbox(carrier, { schema }),
    received,
    relays: [],
    errors: [],
  };
});

afterEach(async () => {
  await Promise.allSettled(s.relays.map((r) => r.close()));
  await s.carrier.close();
  await s.pool.query(`DROP SCHEMA IF EXISTS ${s.schema} CASCADE`);
  await s.pool.end();
});

async function startRelay(options: Partial<OutboxRelayOptions> = {}): Promise<OutboxRelay> {
  const relay = new OutboxRelay({
    connectionString: postgresUrl(),
    carrier: s.carrier,
    schema: s.schema,
    pollIntervalMs: 100,
    rebalanceIntervalMs: 200,
    retryDelayMs: 100,
    onError: (error) => s.errors.push(error),
    ...options,
  });
  s.relays.push(relay);
  await relay.start();
  return relay;
}

async function rowCount(): Promise<number> {
  const { rows } = await s.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${s.schema}.outbox`);
  return rows[0]!.n;
}

/** Resolves once every running relay has read its partitions `rounds` more times. */
async function pollRounds(relays: OutboxRelay[], rounds: number): Promise<void> {
  const start = relays.map((r) => r.stats().fetches);
  await waitFor(
    () => relays.every((r, i) => r.stats().fetches - start[i]! >= rounds * r.stats().partitions.length),
    10_000,
    `${rounds} poll rounds`,
  );
}

function countById(messages: readonly Message[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of messages) counts.set(m.id, (counts.get(m.id) ?? 0) + 1);
  return counts;
}

describe('outbox relay on PostgreSQL', () => {
  it('publishes a committed message once with its id, key, headers, body and content type, and never a rolled-back one', async () => {
    const relay = await startRelay();
    const committed = await inTransaction(s.pool, (tx) =>
      s.outbox.publish(tx, s.topic, 'hello outbox', {
        key: 'order-1',
        headers: { tenant: 'acme' },
        contentType: 'text/plain; charset=utf-8',
        metadata: { correlationId: 'c-1', deadline: new Date('2030-01-01T00:00:00.000Z') },
      }),
    );
    await expect(
      inTransaction(s.pool, async (tx) => {
        await s.outbox.publish(tx, s.topic, 'rolled back', { id: 'rolled-back', key: 'order-1' });
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    await waitFor(() => s.received.length >= 1, 10_000, 'the committed message');
    await waitUntil(async () => (await rowCount()) === 0, 10_000, 'the row deleted after the confirmation');
    expect(relay.stats().published).toBe(1);
    await pollRounds([relay], 2);
    expect(s.received).toHaveLength(1);
    const [message] = s.received;
    expect(message!.id).toBe(committed.id);
    expect(message!.key).toBe('order-1');
    expect(message!.headers).toEqual({ tenant: 'acme' });
    expect(message!.contentType).toBe('text/plain; charset=utf-8');
    expect(new TextDecoder().decode(message!.raw)).toBe('hello outbox');
    expect(message!.metadata?.correlationId).toBe('c-1');
    expect(message!.metadata?.deadline?.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    expect(s.errors).toEqual([]);
  });

  it('holds younger committed rows back while an older transaction that wrote a row is still open', async () => {
    const relay = await startRelay();
    const older = await s.pool.connect();
    try {
      await older.query('BEGIN');
      await s.outbox.publish(older, s.topic, { n: 1 }, { id: 'older', key: 'a' });
      await inTransaction(s.pool, (tx) =>
        s.outbox.publish(tx, s.topic, { n: 2 }, { id: 'younger', key: 'b' }),
      );
      await pollRounds([relay], 3);
      expect(s.received.map((m) => m.id)).toEqual([]);
      expect(await rowCount()).toBe(1); // the older row is invisible to others until it commits
      await older.query('COMMIT');
    } finally {
      older.release();
    }
    await waitFor(() => s.received.length === 2, 10_000, 'both messages');
    expect(s.received.map((m) => m.id).sort()).toEqual(['older', 'younger']);
  });

  it('publishes the rows of each key in seq order under concurrent inserting transactions', async () => {
    await startRelay({ batchSize: 20 });
    const keys = Array.from({ length: 8 }, (_, i) => `key-${i}`);
    const perKey = 40;
    // 4 writers, 2 keys each; each message its own transaction; some transactions linger open
    await Promise.all(
      [0, 1, 2, 3].map(async (w) => {
        for (let n = 0; n < perKey; n++) {
          for (const key of keys.slice(w * 2, w * 2 + 2)) {
            await inTransaction(s.pool, async (tx) => {
              await s.outbox.publish(tx, s.topic, { key, n }, { key });
              if (n % 7 === w) await tx.query('SELECT pg_sleep(0.02)');
            });
          }
        }
      }),
    );
    await waitFor(() => s.received.length >= keys.length * perKey, 30_000, 'every message');
    const seen = new Map<string, number[]>();
    for (const m of s.received) {
      const body = m.body as { key: string; n: number };
      seen.set(body.key, [...(seen.get(body.key) ?? []), body.n]);
    }
    for (const key of keys) expect(seen.get(key)).toEqual([...Array(perKey).keys()]);
  });

  it('splits the partitions between two relays, publishes nothing twice, and hands a closed relay’s partitions over', async () => {
    const a = await startRelay();
    const b = await startRelay();
    await waitFor(
      () => a.stats().partitions.length === 8 && b.stats().partitions.length === 8,
      10_000,
      'an even split',
    );
    expect(new Set([...a.stats().partitions, ...b.stats().partitions]).size).toBe(16);
    const total = 600;
    for (let batch = 0; batch < total / 50; batch++) {
      await inTransaction(s.pool, (tx) =>
        s.outbox.publishBatch(
          tx,
          Array.from({ length: 50 }, (_, i) => ({
            topic: s.topic,
            body: { i: batch * 50 + i },
            key: `k${i % 37}`,
          })),
        ),
      );
    }
    await waitFor(() => s.received.length >= total, 30_000, 'every message');
    expect(countById(s.received).size).toBe(total);
    expect(s.received).toHaveLength(total); // no duplicate in the normal case
    expect(a.stats().published).toBeGreaterThan(0);
    expect(b.stats().published).toBeGreaterThan(0);

    await a.close();
    await waitFor(() => b.stats().partitions.length === 16, 10_000, 'b takes every partition');
    await inTransaction(s.pool, (tx) =>
      s.outbox.publishBatch(
        tx,
        Array.from({ length: 100 }, (_, i) => ({
          topic: s.topic,
          body: { i: total + i },
          key: `k${i % 37}`,
        })),
      ),
    );
    await waitFor(
      () => countById(s.received).size === total + 100,
      10_000,
      'the messages after the handover',
    );
    expect(s.received).toHaveLength(total + 100);
    expect(s.errors).toEqual([]);
  });

  it('loses nothing when a relay’s session is terminated: the other takes its partitions, it reconnects', async () => {
    const a = await startRelay();
    const b = await startRelay();
    await waitFor(
      () => a.stats().partitions.length === 8 && b.stats().partitions.length === 8,
      10_000,
      'an even split',
    );
    const total = 1_000;
    const writing = (async () => {
      for (let batch = 0; batch < total / 20; batch++) {
        await inTransaction(s.pool, (tx) =>
          s.outbox.publishBatch(
            tx,
            Array.from({ length: 20 }, (_, i) => ({
              topic: s.topic,
              body: { i: batch * 20 + i },
              key: `k${i % 13}`,
            })),
          ),
        );
      }
    })();
    await waitFor(() => s.received.length >= 100, 10_000, 'some messages');
    const pid = a.stats().sessionPid;
    expect(pid).toBeTypeOf('number');
    await s.pool.query('SELECT pg_terminate_backend($1)', [pid]);
    await waitFor(
      () => s.errors.some((e) => /session was lost/.test(e.message)),
      10_000,
      'the reported loss',
    );
    await writing;
    await waitFor(() => countById(s.received).size === total, 30_000, 'every message');
    await waitFor(
      () =>
        a.stats().sessionPid !== undefined && a.stats().sessionPid !== pid && a.stats().partitions.length > 0,
      10_000,
      'a back with a new session and partitions',
    );
    const duplicates = s.received.length - total;
    console.log(`outbox relay session terminated: ${total} messages, ${duplicates} duplicates`);
    await waitUntil(async () => (await rowCount()) === 0, 10_000, 'every row deleted');
    expect(s.errors.every((e) => 'code' in e && e.code === 'CONNECTION')).toBe(true);
  });

  it('closes cleanly: its locks and its connection are gone, and closing again does nothing', async () => {
    const relay = await startRelay();
    await inTransaction(s.pool, (tx) => s.outbox.publish(tx, s.topic, 'before close', { key: 'x' }));
    await waitFor(() => s.received.length === 1, 10_000, 'the message');
    const pid = relay.stats().sessionPid!;
    await relay.close();
    await relay.close();
    expect(relay.stats().running).toBe(false);
    expect(relay.stats().partitions).toEqual([]);
    const { rows } = await s.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_locks WHERE pid = $1 AND locktype = 'advisory'",
      [pid],
    );
    expect(rows[0]!.n).toBe(0);
    const active = async () =>
      (
        await s.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [
          pid,
        ])
      ).rows[0]!.n;
    await waitUntil(async () => (await active()) === 0, 5_000, 'the session gone from pg_stat_activity');
    // rows written after the close stay for the next relay
    await inTransaction(s.pool, (tx) => s.outbox.publish(tx, s.topic, 'after close', { key: 'x' }));
    expect(await rowCount()).toBe(1);
    await expect(relay.start()).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('close gives up after closeTimeoutMs on a publish that never settles: the row stays, the locks are released', async () => {
    let attempts = 0;
    // a carrier whose broker never answers: every publish stays pending
    const silent = new Proxy(s.carrier, {
      get(target, property, receiver) {
        if (property === 'publishBatch') {
          return () => {
            attempts++;
            return new Promise<never>(() => {});
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const relay = await startRelay({ carrier: silent, closeTimeoutMs: 300 });
    await inTransaction(s.pool, (tx) => s.outbox.publish(tx, s.topic, 'never confirmed', { key: 'n' }));
    await waitFor(() => attempts >= 1, 10_000, 'the publish under way');
    const pid = relay.stats().sessionPid!;
    const started = Date.now();
    await relay.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(relay.stats().running).toBe(false);
    const locks = async () =>
      (
        await s.pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_locks WHERE pid = $1 AND locktype = 'advisory'",
          [pid],
        )
      ).rows[0]!.n;
    await waitUntil(async () => (await locks()) === 0, 5_000, 'the session’s locks released');
    expect(await rowCount()).toBe(1);
    // the next relay publishes the abandoned row
    await startRelay();
    await waitFor(() => s.received.length === 1, 10_000, 'the abandoned row published by the next relay');
  });

  it('refuses to start, once and clearly, when the outbox table does not exist', async () => {
    const missing = freshSchema();
    const relay = new OutboxRelay({ connectionString: postgresUrl(), carrier: s.carrier, schema: missing });
    s.relays.push(relay);
    await expect(relay.start()).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining(`"${missing}"."outbox"`),
    });
    expect(relay.stats().running).toBe(false);
    expect(relay.stats().sessionPid).toBeUndefined();
  });

  it('names the cause in the error when reading a partition fails', async () => {
    await startRelay();
    await s.pool.query(`DROP TABLE ${s.schema}.outbox`);
    await waitFor(() => s.errors.length >= 1, 10_000, 'a reported read failure');
    expect(s.errors[0]!.message).toMatch(/reading partition \d+ failed: relation ".*outbox" does not exist/);
  });

  it('runs from a pool: the session goes back to the pool on close', async () => {
    const relay = await startRelay({ pool: s.pool, connectionString: undefined });
    await inTransaction(s.pool, (tx) => s.outbox.publish(tx, s.topic, 'pooled', { key: 'p' }));
    await waitFor(() => s.received.length === 1, 10_000, 'the message');
    expect(s.pool.totalCount - s.pool.idleCount).toBeGreaterThanOrEqual(1);
    await relay.close();
    expect(s.pool.totalCount).toBe(s.pool.idleCount);
  });

  it('dead-letters a message the broker can never accept with its reason, publishes the key’s later rows, and redrives it', async () => {
    // the outbox writes through a carrier without a small limit; the relay publishes to the same
    // memory broker through one that refuses messages over 4 KiB (a broker whose limit is smaller
    // than the application expected)
    const broker = freshName('dlq').replace(/[^a-z0-9-]/g, '-');
    const writer = await connect(`memory://${broker}`);
    const limited = await connect(`memory://${broker}?maxMessageBytes=4096`);
    try {
      const got: Message[] = [];
      await writer.subscribe(s.topic, { group: 'g' }, (m) => {
        got.push(m);
      });
      const outbox = new Outbox(writer, { schema: s.schema });
      const big = 'x'.repeat(10_000);
      const rows = await inTransaction(s.pool, (tx) =>
        outbox.publishBatch(tx, [
          { topic: s.topic, body: 'first', key: 'order-7' },
          { topic: s.topic, body: big, key: 'order-7', headers: { kind: 'big' } },
          { topic: s.topic, body: 'third', key: 'order-7' },
          { topic: s.topic, body: 'fourth', key: 'order-7' },
        ]),
      );
      const relay = await startRelay({ carrier: limited });
      await waitFor(() => got.length >= 3, 10_000, 'the rows after the rejected one');
      expect(got.map((m) => m.id)).toEqual([rows[0]!.id, rows[2]!.id, rows[3]!.id]);
      await waitUntil(async () => (await rowCount()) === 0, 10_000, 'the outbox emptied');
      const { rows: dead } = await s.pool.query<{
        seq: string;
        message_id: string;
        key: string;
        headers: Record<string, string>;
        body: Buffer;
        error_code: string;
        reason: string;
        dead_lettered_at: Date;
      }>(`SELECT * FROM ${s.schema}.outbox_dead_letter`);
      expect(dead).toHaveLength(1);
      expect(dead[0]!.message_id).toBe(rows[1]!.id);
      expect(dead[0]!.key).toBe('order-7');
      expect(dead[0]!.headers).toEqual({ kind: 'big' });
      expect(dead[0]!.error_code).toBe('MESSAGE_TOO_LARGE');
      expect(dead[0]!.reason).toMatch(/4096/);
      expect(dead[0]!.dead_lettered_at).toBeInstanceOf(Date);
      expect(relay.stats().deadLettered).toBe(1);
      expect(relay.stats().published).toBe(3);
      expect(s.errors).toHaveLength(1);
      expect(s.errors[0]).toMatchObject({ code: 'PUBLISH_FAILED' });
      expect(s.errors[0]!.message).toContain(rows[1]!.id);
      expect((s.errors[0]!.cause as { code?: string }).code).toBe('MESSAGE_TOO_LARGE');

      // fixed: a relay publishing without the small limit; the redriven row goes after the key's
      // rows already in the outbox
      await relay.close();
      await inTransaction(s.pool, (tx) =>
        outbox.publish(tx, s.topic, 'fifth', { key: 'order-7', id: 'fifth' }),
      );
      expect(await redriveOutboxDeadLetters(s.pool, { schema: s.schema, ids: [dead[0]!.seq] })).toBe(1);
      expect(await redriveOutboxDeadLetters(s.pool, { schema: s.schema, all: true })).toBe(0);
      const fixed = await startRelay({ carrier: writer });
      await waitFor(() => got.length >= 5, 10_000, 'the redriven row');
      expect(got.slice(3).map((m) => m.id)).toEqual(['fifth', rows[1]!.id]);
      const redriven = got[4]!;
      expect(new TextDecoder().decode(redriven.raw)).toBe(big);
      expect(redriven.headers).toEqual({ kind: 'big' });
      expect(fixed.stats().deadLettered).toBe(0);
      expect(s.errors).toHaveLength(1);
      const { rows: left } = await s.pool.query(`SELECT 1 FROM ${s.schema}.outbox_dead_letter`);
      expect(left).toEqual([]);
    } finally {
      await Promise.allSettled(s.relays.map((r) => r.close()));
      await limited.close();
      await writer.close();
    }
  });
});
