import {
  type Capabilities,
  type Carrier,
  CarrierError,
  type CarrierErrorCode,
  connect,
  type DeadLetter,
  type Message,
  NonRetryableError,
  parseCarrierUrl,
  transportFactoryFor,
} from '@carrier/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  countingFactory,
  type DeliveryLog,
  type OutstandingCounter,
  observingFactory,
} from './counting-transport.js';
import { duplicates, freshName, gate, waitFor } from './support.js';

/** How to reach the transport under test. */
export interface TransportContractOptions {
  /** Shown in test names, e.g. `memory`, `kafka`. */
  name: string;
  /** URL for `connect()`; or a function returning it (evaluated when a test runs). */
  url?: string | (() => string);
  /** Custom way to open a new, independent connection (overrides `url`). */
  connect?: () => Promise<Carrier>;
  /** Capabilities the transport must declare; each listed field is asserted. */
  capabilities?: Partial<Capabilities>;
  /** Deadline of each wait, in ms (default 20 000). Slow brokers (Kafka rebalances) want more. */
  timeoutMs?: number;
  /**
   * The transport charges an attempt for a delivery given back with `release()`: a documented
   * exception to the rule (SQS FIFO queues, where a give-back copy would lose its place in its
   * message group). The release case then expects attempt 2 for released deliveries instead of 1.
   * Default false.
   */
  releaseChargesAttempt?: boolean;
}

async function expectCode(
  promise: Promise<unknown> | (() => unknown),
  code: CarrierErrorCode,
): Promise<CarrierError> {
  let error: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (e) {
    error = e;
  }
  expect(error, `expected CarrierError ${code}`).toBeInstanceOf(CarrierError);
  expect((error as CarrierError).code).toBe(code);
  return error as CarrierError;
}

const BINARY = new Uint8Array([0x00, 0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x0a, 0x0d, 0x00]);

/**
 * Register the conformance suite for one transport with vitest. Every test opens its own
 * connections, uses fresh topic and group names, waits on conditions with deadlines, and closes
 * what it opened. Cases that depend on a capability the transport lacks assert instead that asking
 * for it fails with `UNSUPPORTED`.
 */
export function describeTransportContract(options: TransportContractOptions): void {
  const timeout = options.timeoutMs ?? 20_000;
  const open: Carrier[] = [];

  async function carrier(): Promise<Carrier> {
    let c: Carrier;
    if (options.connect) c = await options.connect();
    else {
      const url = typeof options.url === 'function' ? options.url() : options.url;
      if (!url) throw new Error('describeTransportContract needs url or connect');
      c = await connect(url);
    }
    open.push(c);
    return c;
  }

  const until = (condition: () => boolean, what: string) => waitFor(condition, timeout, what);

  describe(`transport contract: ${options.name}`, { timeout: timeout * 4 }, () => {
    afterEach(async () => {
      await Promise.allSettled(open.splice(0).map((c) => c.close()));
    });

    it('declares the expected capabilities', async () => {
      const c = await carrier();
      const caps = c.capabilities;
      expect(caps.maxMessageBytes).toBeGreaterThan(0);
      expect(caps.maxDelayMs).toBeGreaterThan(0);
      for (const [field, value] of Object.entries(options.capabilities ?? {})) {
        expect(caps[field as keyof Capabilities], `capability ${field}`).toBe(value);
      }
    });

    it('round-trips binary, text and JSON bodies with key, id and unicode headers', async () => {
      const c = await carrier();
      const topic = freshName('rt');
      const got: Message[] = [];
      await c.subscribe(topic, { group: 'g' }, (m) => {
        got.push(m);
      });
      const headers = { tenant: 'acme', note: 'naïve café ✓ 日本語 🚀', empty: '' };
      const before = Date.now();
      await c.publish(topic, BINARY, { key: 'customer-7', headers, id: 'bin-1' });
      await c.publish(topic, 'grüße 🌍', { key: 'customer-7', id: 'text-1' });
      await c.publish(
        topic,
        { id: 42, nested: { list: [1, 'two', null] }, future: 'unknown-field' },
        { id: 'json-1' },
      );
      await until(() => got.length >= 3, '3 messages');
      const byId = new Map(got.map((m) => [m.id, m]));
      const bin = byId.get('bin-1')!;
      expect(bin.topic).toBe(topic);
      expect(bin.key).toBe('customer-7');
      expect(bin.headers).toEqual(headers);
      expect(bin.attempt).toBe(1);
      expect(Buffer.from(bin.raw).equals(Buffer.from(BINARY))).toBe(true);
      expect(bin.body).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(bin.body as Uint8Array).equals(Buffer.from(BINARY))).toBe(true);
      expect(bin.contentType).toBe('application/octet-stream');
      expect(bin.publishedAt).toBeInstanceOf(Date);
      expect(bin.publishedAt.getTime()).toBeGreaterThanOrEqual(before - 1_000);
      expect(byId.get('text-1')!.body).toBe('grüße 🌍');
      expect(byId.get('text-1')!.headers).toEqual({});
      const json = byId.get('json-1')!;
      expect(json.body).toEqual({ id: 42, nested: { list: [1, 'two', null] }, future: 'unknown-field' });
      expect(json.key).toBeUndefined();
      expect(new TextDecoder().decode(json.raw)).toBe(JSON.stringify(json.body));
    });

    it('forwarding raw bytes with content type and headers reproduces the message byte for byte', async () => {
      const c = await carrier();
      const source = freshName('fwd-src');
      const target = freshName('fwd-dst');
      const forwarded: Message[] = [];
      await c.subscribe(target, { group: 'g' }, (m) => {
        forwarded.push(m);
      });
      await c.subscribe(source, { group: 'g' }, async (m) => {
        await c.publish(target, m.raw, {
          key: m.key,
          headers: m.headers,
          id: m.id,
          contentType: m.contentType,
        });
      });
      const original = '{"id":1,"addedByNewerProducer":{"deep":[1,2]},"z":"ü"}';
      await c.publish(source, new TextEncoder().encode(original), {
        contentType: 'application/json',
        headers: { v: '2' },
      });
      await until(() => forwarded.length >= 1, 'forwarded message');
      expect(new TextDecoder().decode(forwarded[0]!.raw)).toBe(original);
      expect(forwarded[0]!.body).toEqual(JSON.parse(original));
      expect(forwarded[0]!.headers).toEqual({ v: '2' });
    });

    it('publishBatch delivers every message of the batch', async () => {
      const c = await carrier();
      const topic = freshName('batch');
      const got = new Set<string>();
      await c.subscribe(topic, { group: 'g', concurrency: 4 }, (m) => {
        got.add(m.id);
      });
      const receipts = await c.publishBatch(
        topic,
        Array.from({ length: 25 }, (_, i) => ({ body: { i }, key: `k${i % 5}`, headers: { n: String(i) } })),
      );
      expect(receipts).toHaveLength(25);
      await until(() => got.size >= 25, '25 batch messages');
      expect([...got].sort()).toEqual(receipts.map((r) => r.id).sort());
    });

    it('buffers for a declared group while no consumer runs', async () => {
      const c = await carrier();
      const topic = freshName('buf');
      const first = await c.subscribe(topic, { group: 'late' }, () => {});
      await first.close();
      await c.declare(topic, ['late']);
      const ids = (
        await c.publishBatch(
          topic,
          Array.from({ length: 10 }, (_, i) => ({ body: { i } })),
        )
      ).map((r) => r.id);
      const c2 = await carrier();
      const got = new Set<string>();
      await c2.subscribe(topic, { group: 'late' }, (m) => {
        got.add(m.id);
      });
      await until(() => got.size >= 10, 'buffered messages');
      expect([...got].sort()).toEqual([...ids].sort());
    });

    it('fans out: every group gets every message', async () => {
      const c = await carrier();
      const topic = freshName('fan');
      if (!c.capabilities.fanOut) {
        await c.subscribe(topic, { group: 'a' }, () => {});
        await expectCode(c.declare(topic, ['a', 'b']), 'UNSUPPORTED');
        return;
      }
      const a: string[] = [];
      const b: string[] = [];
      await c.subscribe(topic, { group: 'a' }, (m) => {
        a.push(m.id);
      });
      await c.subscribe(topic, { group: 'b' }, (m) => {
        b.push(m.id);
      });
      const ids = (
        await c.publishBatch(
          topic,
          Array.from({ length: 10 }, (_, i) => ({ body: i })),
        )
      ).map((r) => r.id);
      await until(() => a.length >= 10 && b.length >= 10, 'both groups');
      expect([...a].sort()).toEqual([...ids].sort());
      expect([...b].sort()).toEqual([...ids].sort());
    });

    it('competing consumers: each message to one member, both members get work', async () => {
      const c1 = await carrier();
      const c2 = await carrier();
      const topic = freshName('compete');
      if (!c1.capabilities.competingConsumers) return; // declared false: nothing to share
      const byMember: [string[], string[]] = [[], []];
      const handler = (into: string[]) => async (m: Message) => {
        into.push(m.id);
        await new Promise((resolve) => setTimeout(resolve, 5));
      };
      await c1.subscribe(topic, { group: 'workers' }, handler(byMember[0]));
      await c2.subscribe(topic, { group: 'workers' }, handler(byMember[1]));
      const ids = (
        await c1.publishBatch(
          topic,
          Array.from({ length: 60 }, (_, i) => ({ body: { i }, key: `key-${i}` })),
        )
      ).map((r) => r.id);
      const all = () => [...byMember[0], ...byMember[1]];
      await until(() => new Set(all()).size >= 60, 'all 60 messages handled');
      expect(new Set(all())).toEqual(new Set(ids));
      expect(duplicates(all()).size, 'messages handled twice').toBe(0);
      expect(byMember[0].length, 'member 1 got work').toBeGreaterThan(0);
      expect(byMember[1].length, 'member 2 got work').toBeGreaterThan(0);
    });

    it('redelivers after a thrown error with attempt 2', async () => {
      const c = await carrier();
      const topic = freshName('retry');
      const seen: Message[] = [];
      await c.subscribe(topic, { group: 'g', retry: { maxAttempts: 3, initialDelayMs: 50 } }, (m) => {
        seen.push(m);
        if (m.attempt === 1) throw new Error('transient');
      });
      const { id } = await c.publish(topic, { hello: 'again' }, { key: 'k1', headers: { h: 'v' } });
      await until(() => seen.length >= 2, 'redelivery');
      expect(seen.map((m) => m.attempt)).toEqual([1, 2]);
      expect(seen[1]!.id).toBe(id);
      expect(seen[1]!.key).toBe('k1');
      expect(seen[1]!.headers).toEqual({ h: 'v' });
      expect(seen[1]!.body).toEqual({ hello: 'again' });
    });

    it('respects the backoff delay (lower bound)', async () => {
      const c = await carrier();
      const topic = freshName('backoff');
      const initialDelayMs = 600;
      const at: number[] = [];
      await c.subscribe(topic, { group: 'g', retry: { maxAttempts: 2, initialDelayMs } }, (m) => {
        at.push(performance.now());
        if (m.attempt === 1) throw new Error('later');
      });
      await c.publish(topic, 'x');
      await until(() => at.length >= 2, 'retry');
      // Equal jitter: the delay lies in [d/2, d]; timers may fire a few ms early.
      expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(initialDelayMs / 2 - 15);
    });

    it('dead-letters after maxAttempts with reason, attempts and the original message', async () => {
      const c = await carrier();
      const topic = freshName('dl');
      let calls = 0;
      await c.subscribe(
        topic,
        { group: 'g', retry: { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 100 } },
        () => {
          calls++;
          throw new Error(`cannot handle #${calls}`);
        },
      );
      const { id } = await c.publish(topic, BINARY, { key: 'order-9', headers: { tenant: 'acme' } });
      const letters: DeadLetter[] = [];
      await c.deadLetters(topic, 'g').subscribe((l) => {
        letters.push(l);
      });
      await until(() => letters.length >= 1, 'dead letter');
      const [letter] = letters;
      expect(calls).toBe(3);
      expect(letter!.reason).toBe('cannot handle #3');
      expect(letter!.attempts).toBe(3);
      expect(letter!.failedAt).toBeInstanceOf(Date);
      expect(letter!.message.id).toBe(id);
      expect(letter!.message.key).toBe('order-9');
      expect(letter!.message.headers).toEqual({ tenant: 'acme' });
      expect(Buffer.from(letter!.message.raw).equals(Buffer.from(BINARY))).toBe(true);
    });

    it('NonRetryableError dead-letters on attempt 1', async () => {
      const c = await carrier();
      const topic = freshName('nonretry');
      let calls = 0;
      await c.subscribe(topic, { group: 'g', retry: { maxAttempts: 5 } }, () => {
        calls++;
        throw new NonRetryableError('invalid order');
      });
      await c.publish(topic, { bad: true });
      const letters: DeadLetter[] = [];
      await c.deadLetters(topic, 'g').subscribe((l) => {
        letters.push(l);
      });
      await until(() => letters.length >= 1, 'dead letter');
      expect(calls).toBe(1);
      expect(letters[0]!.attempts).toBe(1);
      expect(letters[0]!.reason).toBe('invalid order');
      expect(letters[0]!.message.body).toEqual({ bad: true });
    });

    it('dead-letters an undecodable body without calling the handler', async () => {
      const c = await carrier();
      const topic = freshName('undecodable');
      let calls = 0;
      await c.subscribe(topic, { group: 'g' }, () => {
        calls++;
      });
      const bytes = new TextEncoder().encode('{"not": json');
      await c.publish(topic, bytes, { contentType: 'application/json' });
      const letters: DeadLetter[] = [];
      await c.deadLetters(topic, 'g').subscribe((l) => {
        letters.push(l);
      });
      await until(() => letters.length >= 1, 'dead letter');
      expect(calls).toBe(0);
      expect(letters[0]!.reason).toMatch(/JSON/);
      expect(Buffer.from(letters[0]!.message.raw).equals(Buffer.from(bytes))).toBe(true);
    });

    it('redrive sends dead letters back to the failing group only', async () => {
      const c = await carrier();
      const topic = freshName('redrive');
      const groups = c.capabilities.fanOut ? ['failing', 'healthy'] : ['failing'];
      const healthy: string[] = [];
      const failing = await c.subscribe(topic, { group: 'failing' }, () => {
        throw new NonRetryableError('not yet');
      });
      if (groups.length > 1) {
        await c.subscribe(topic, { group: 'healthy' }, (m) => {
          healthy.push(m.id);
        });
      }
      const { id } = await c.publish(topic, { n: 1 });
      const letters: DeadLetter[] = [];
      const reader = await c.deadLetters(topic, 'failing').subscribe((l) => {
        letters.push(l);
        throw new Error('keep it'); // keeps the letter in the dead-letter destination
      });
      await until(() => letters.length >= 1 && (groups.length === 1 || healthy.length >= 1), 'dead letter');
      await reader.close();
      await failing.close();
      const redriven: Message[] = [];
      await c.subscribe(topic, { group: 'failing' }, (m) => {
        redriven.push(m);
      });
      const moved = await c.deadLetters(topic, 'failing').redrive();
      expect(moved).toBe(1);
      const { id: sentinel } = await c.publish(topic, { n: 2 });
      await until(() => redriven.some((m) => m.id === id), 'redriven message');
      expect(redriven.find((m) => m.id === id)!.attempt).toBe(1);
      if (groups.length > 1) {
        await until(() => healthy.includes(sentinel), 'sentinel on the healthy group');
        expect(healthy.filter((h) => h === id)).toHaveLength(1);
      }
      expect(await c.deadLetters(topic, 'failing').redrive()).toBe(0);
    });

    it('a member that dies without settling has its message redelivered to another member', async () => {
      const crashing = await carrier();
      const survivor = await carrier();
      const topic = freshName('crash');
      const stuck: string[] = [];
      const rescued: Message[] = [];
      await crashing.subscribe(topic, { group: 'g' }, async (m) => {
        stuck.push(m.id);
        await new Promise(() => {}); // never settles
      });
      const { id } = await crashing.publish(topic, { work: 'important' });
      await until(() => stuck.includes(id), 'the doomed member to receive the message');
      await survivor.subscribe(topic, { group: 'g' }, (m) => {
        rescued.push(m);
      });
      await crashing.abort();
      await until(() => rescued.some((m) => m.id === id), 'redelivery to the surviving member');
      expect(rescued.find((m) => m.id === id)!.body).toEqual({ work: 'important' });
    });

    it('keeps per-key order with concurrency > 1 while different keys run in parallel', async () => {
      const c = await carrier();
      const topic = freshName('order');
      if (!c.capabilities.perKeyOrder) {
        await expectCode(
          c.subscribe(topic, { group: 'g', ordered: true }, () => {}),
          'UNSUPPORTED',
        );
        return;
      }
      const seen = new Map<string, number[]>();
      let inFlight = 0;
      let maxInFlight = 0;
      let total = 0;
      await c.subscribe(topic, { group: 'g', concurrency: 8, ordered: true }, async (m) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        const { key, seq } = m.body as { key: string; seq: number };
        await new Promise((resolve) => setTimeout(resolve, (seq * 7) % 11));
        seen.set(key, [...(seen.get(key) ?? []), seq]);
        inFlight--;
        total++;
      });
      const entries = [];
      for (let seq = 0; seq < 20; seq++)
        for (const key of ['a', 'b', 'c', 'd']) entries.push({ body: { key, seq }, key });
      await c.publishBatch(topic, entries);
      await until(() => total >= 80, '80 messages');
      for (const key of ['a', 'b', 'c', 'd'])
        expect(seen.get(key)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(maxInFlight).toBeGreaterThan(1);
    });

    it('never exceeds the concurrency limit', async () => {
      const c = await carrier();
      const topic = freshName('limit');
      let inFlight = 0;
      let maxInFlight = 0;
      let done = 0;
      await c.subscribe(topic, { group: 'g', concurrency: 3 }, async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 15));
        inFlight--;
        done++;
      });
      await c.publishBatch(
        topic,
        Array.from({ length: 30 }, (_, i) => ({ body: i, key: `k${i}` })),
      );
      await until(() => done >= 30, '30 messages');
      expect(maxInFlight).toBeLessThanOrEqual(3);
      expect(maxInFlight).toBeGreaterThan(1);
    });

    it('never hands out more unsettled deliveries than the prefetch (backpressure)', async () => {
      const url = typeof options.url === 'function' ? options.url() : options.url;
      if (!url) throw new Error('this case needs `url` (it wraps the transport to count deliveries)');
      const counter: OutstandingCounter = { now: 0, max: 0 };
      const factory = countingFactory(await transportFactoryFor(new URL(url)), counter);
      const c = await connect(url, { transport: factory });
      open.push(c);
      const topic = freshName('prefetch');
      let done = 0;
      await c.subscribe(topic, { group: 'g', concurrency: 2, prefetch: 3 }, async () => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        done++;
      });
      await c.publishBatch(
        topic,
        Array.from({ length: 40 }, (_, i) => ({ body: i })),
      );
      await until(() => done >= 40, '40 slow messages');
      expect(counter.max).toBeGreaterThanOrEqual(2);
      expect(counter.max, 'unsettled deliveries at once').toBeLessThanOrEqual(3);
    });

    it('close drains in-flight handlers and a new consumer gets only the rest', async () => {
      const c = await carrier();
      const topic = freshName('drain');
      const handled: string[] = [];
      const started: string[] = [];
      const hold = gate();
      const sub = await c.subscribe(topic, { group: 'g', concurrency: 2 }, async (m) => {
        started.push(m.id);
        await hold.promise;
        handled.push(m.id);
      });
      const ids = (
        await c.publishBatch(
          topic,
          Array.from({ length: 10 }, (_, i) => ({ body: i })),
        )
      ).map((r) => r.id);
      await until(() => started.length >= 1, 'a handler to start');
      let closed = false;
      const closing = sub.close().then(() => {
        closed = true;
      });
      await new Promise((resolve) => setImmediate(resolve));
      expect(closed, 'close waits for in-flight handlers').toBe(false);
      hold.open();
      await closing;
      expect(handled.length).toBe(started.length);
      const rest: string[] = [];
      const c2 = await carrier();
      await c2.subscribe(topic, { group: 'g', concurrency: 4 }, (m) => {
        rest.push(m.id);
      });
      await until(() => new Set([...handled, ...rest]).size >= 10, 'the remaining messages');
      expect(new Set([...handled, ...rest])).toEqual(new Set(ids));
      expect(
        rest.filter((id) => handled.includes(id)),
        'settled messages delivered again',
      ).toEqual([]);
    });

    describe('failure behaviour', () => {
      /** The URL of the transport under test, or undefined when the suite was given `connect` only. */
      const urlOf = () => (typeof options.url === 'function' ? options.url() : options.url);

      for (const ordered of [false, true]) {
        const name = ordered
          ? 'a delivery given back by close() of an ordered member keeps its attempt when a new member gets it'
          : 'a delivery given back by close() keeps its attempt when a new member gets it';
        it(name, async ({ skip }) => {
          const url = urlOf();
          skip(
            url === undefined,
            'needs `url`: the case wraps the transport to see which deliveries close() gave back',
          );
          const log: DeliveryLog = { received: [], settled: [] };
          const factory = observingFactory(await transportFactoryFor(parseCarrierUrl(url!)), log);
          const c = await connect(url!, { transport: factory });
          open.push(c);
          // an ordered group gives back at its place in the queue (single active consumer, a FIFO
          // message group): the broker's count must still not be charged
          skip(
            ordered && !c.capabilities.perKeyOrder,
            'the transport has no per-key order (`ordered: true` is refused)',
          );
          const topic = freshName('release-attempt');
          const hold = gate();
          const started: string[] = [];
          const sub = await c.subscribe(
            topic,
            { group: 'g', concurrency: 1, prefetch: 4, ordered },
            async (m) => {
              started.push(m.id);
              await hold.promise;
            },
          );
          const ids = (
            await c.publishBatch(
              topic,
              Array.from({ length: 4 }, (_, i) => ({ body: i })),
            )
          ).map((r) => r.id);
          await until(
            () => started.length >= 1 && log.received.length >= 2,
            'one handler running and a second delivery waiting behind it',
          );
          const closing = sub.close();
          hold.open();
          await closing;
          const released = log.settled.filter((s) => s.kind === 'release').map((s) => s.id);
          expect(released.length, 'deliveries given back by close()').toBeGreaterThanOrEqual(1);
          const c2 = await carrier();
          const later: Message[] = [];
          await c2.subscribe(topic, { group: 'g', concurrency: 4, ordered }, (m) => {
            later.push(m);
          });
          await until(
            () => new Set([...started, ...later.map((m) => m.id)]).size >= ids.length,
            'every message handled by one member or the next',
          );
          const releasedAttempt = options.releaseChargesAttempt ? 2 : 1;
          for (const id of released) {
            const again = later.find((m) => m.id === id);
            expect(again, `released message ${id} delivered to the next member`).toBeDefined();
            expect(again!.attempt, `attempt of released message ${id}`).toBe(releasedAttempt);
          }
          expect(
            later
              .filter((m) => !released.includes(m.id) && m.attempt !== 1)
              .map((m) => `${m.id}@${m.attempt}`),
            'messages not released delivered with a charged attempt',
          ).toEqual([]);
        });
      }

      it('a delivery whose member crashed counts as one attempt', async () => {
        const crashing = await carrier();
        const survivor = await carrier();
        const topic = freshName('crash-attempt');
        const seen: number[] = [];
        const rescued: Message[] = [];
        await crashing.subscribe(topic, { group: 'g' }, async (m) => {
          seen.push(m.attempt);
          await new Promise(() => {}); // never settles
        });
        const { id } = await crashing.publish(topic, { work: 'once' });
        await until(() => seen.length >= 1, 'the doomed member to receive the message');
        await survivor.subscribe(topic, { group: 'g' }, (m) => {
          rescued.push(m);
        });
        await crashing.abort();
        await until(() => rescued.some((m) => m.id === id), 'redelivery to the surviving member');
        expect(seen).toEqual([1]);
        expect(rescued.find((m) => m.id === id)!.attempt).toBe(2);
      });

      it('a message that kills its consumer is dead-lettered after maxAttempts deliveries without reaching the handler again', async () => {
        // Each member takes one message at a time (concurrency 1, prefetch 1) and the poison message
        // is alone in the queue while members die: a message merely prefetched by a member that
        // crashes is rightly charged an attempt too (it was delivered and never settled), so other
        // messages are published only once the poison message is dead-lettered. The case then
        // asserts exactly the rule, on every broker, whatever the timing of prefetches.
        const maxAttempts = 2;
        const observer = await carrier();
        const topic = freshName('poison');
        await observer.declare(topic, ['g']);
        const letters: DeadLetter[] = [];
        await observer.deadLetters(topic, 'g').subscribe((l) => {
          letters.push(l);
        });
        const poisonAttempts: number[] = [];
        const handled = new Map<string, number>(); // id → attempt
        const deaths: Promise<void>[] = [];
        const poisonId = freshName('poison');
        const member = async () => {
          const c = await carrier();
          let crashed = false;
          await c
            .subscribe(
              topic,
              {
                group: 'g',
                concurrency: 1,
                prefetch: 1,
                retry: { maxAttempts, initialDelayMs: 50 },
              },
              (m) => {
                if (m.id === poisonId) {
                  poisonAttempts.push(m.attempt);
                  crashed = true;
                  deaths.push(c.abort()); // the process dies inside the handler
                  return new Promise<void>(() => {});
                }
                handled.set(m.id, m.attempt);
              },
            )
            .catch((error: unknown) => {
              // The poison message can arrive before subscribe() resolved: then subscribe rejects
              // with CLOSED because the member died meanwhile.
              if (!crashed) throw error;
            });
        };
        await observer.publish(topic, { poison: true }, { id: poisonId });
        for (let crash = 1; crash <= maxAttempts; crash++) {
          await member(); // started, or restarted after the previous crash
          await until(() => poisonAttempts.length >= crash, `crash ${crash} of ${maxAttempts}`);
          await deaths[crash - 1]; // the dead member is gone before the next one starts
        }
        // The next member gets the poison message once more: core dead-letters it without calling
        // the handler, and it holds nothing back afterwards.
        await member();
        await until(
          () => letters.some((l) => l.message.id === poisonId),
          'the poison message in the dead letters',
        );
        const others = (
          await observer.publishBatch(
            topic,
            Array.from({ length: 3 }, (_, i) => ({ body: { fine: i } })),
          )
        ).map((r) => r.id);
        await until(() => others.every((id) => handled.has(id)), 'the other messages handled');
        expect(poisonAttempts, 'attempts the handler saw').toEqual([1, 2]);
        expect(
          others.map((id) => handled.get(id)),
          'attempts of the other messages',
        ).toEqual([1, 1, 1]);
        expect(
          letters.filter((l) => l.message.id !== poisonId).map((l) => l.message.id),
          'other messages dead-lettered',
        ).toEqual([]);
        const letter = letters.find((l) => l.message.id === poisonId)!;
        expect(letter.attempts).toBe(maxAttempts);
        expect(letter.reason).toMatch(/without settlement/);
        expect(letter.message.body).toEqual({ poison: true });
      });

      it('closing an idle member neither delays nor charges an attempt to the next member', async () => {
        const promptlyMs = Math.min(timeout, 10_000);
        const a = await carrier();
        const topic = freshName('idle-close');
        await a.subscribe(topic, { group: 'g' }, () => {
          throw new Error('member A was closed before anything was published');
        });
        await new Promise((resolve) => setTimeout(resolve, 1_500)); // A idles (long polls run)
        await a.close();
        const b = await carrier();
        const { id } = await b.publish(topic, { next: true });
        const got: Message[] = [];
        const since = performance.now();
        await b.subscribe(topic, { group: 'g' }, (m) => {
          got.push(m);
        });
        await waitFor(() => got.length >= 1, promptlyMs, `the message within ${promptlyMs} ms`);
        const tookMs = performance.now() - since;
        expect(got[0]!.id).toBe(id);
        expect(got[0]!.attempt, `attempt (received after ${Math.round(tookMs)} ms)`).toBe(1);
      });

      it('a member joining and leaving during a long handler never causes concurrent handling of one message', async ({
        skip,
      }) => {
        const url = urlOf();
        skip(
          url === undefined,
          'needs `url`: the case wraps the transport to see how core settles the message',
        );
        // Member A handles the one message for HANDLER_MS (its workload, below every broker's lease
        // renewal margin: the adapters renew the lease while a handler runs). Meanwhile member B
        // joins the group and leaves again, which rebalances the group on Kafka. The message must
        // never be handled by two members at once, and here it must be handled once and acked once.
        const HANDLER_MS = 4_000;
        const JOIN_AFTER_MS = 500;
        const LEAVE_AFTER_MS = 1_500;
        const SETTLE_MS = 2_000;
        const log: DeliveryLog = { received: [], settled: [] };
        const factory = observingFactory(await transportFactoryFor(parseCarrierUrl(url!)), log);
        const errors: string[] = [];
        const member = async () => {
          const c = await connect(url!, {
            transport: factory,
            onError: (error) => {
              errors.push(String(error));
            },
          });
          open.push(c);
          return c;
        };
        const runs: Array<{
          member: string;
          id: string;
          attempt: number;
          start: number;
          end?: number;
          leaseLost?: boolean;
        }> = [];
        const handler = (name: string) => async (m: Message) => {
          const run: (typeof runs)[number] = {
            member: name,
            id: m.id,
            attempt: m.attempt,
            start: performance.now(),
          };
          runs.push(run);
          await new Promise((resolve) => setTimeout(resolve, HANDLER_MS)); // the workload
          run.leaseLost = m.signal.aborted;
          run.end = performance.now();
        };
        const a = await member();
        const topic = freshName('member-churn');
        await a.declare(topic, ['g']);
        const { id } = await a.publish(topic, { work: 'long' }, { key: 'churn-key' });
        await a.subscribe(topic, { group: 'g', concurrency: 1 }, handler('A'));
        await until(() => runs.length >= 1, 'member A to start handling the message');
        const aStart = runs[0]!.start;
        const atOffset = (ms: number) =>
          new Promise((resolve) => setTimeout(resolve, Math.max(0, aStart + ms - performance.now())));
        await atOffset(JOIN_AFTER_MS);
        const b = await member();
        // B leaves at a fixed time whether or not its subscribe has resolved: on Kafka the join
        // completes only once the rebalance it started is over, which A's running handler holds up.
        let bJoined = false;
        const bSubscribing = b.subscribe(topic, { group: 'g', concurrency: 1 }, handler('B')).then(
          () => {
            bJoined = true;
          },
          (error: unknown) => error,
        );
        await atOffset(JOIN_AFTER_MS + LEAVE_AFTER_MS);
        const bLeftAt = performance.now();
        const aRunningWhenBLeft = runs[0]!.end === undefined;
        const bJoinedWhenLeft = bJoined;
        await b.close();
        const bOutcome = await bSubscribing;
        if (bOutcome !== undefined) {
          // The only acceptable failure: the subscribe was cut short by B's close.
          expect(bOutcome).toBeInstanceOf(CarrierError);
          expect((bOutcome as CarrierError).code).toBe('CLOSED');
        }
        await until(() => runs.every((r) => r.end !== undefined), 'every handler run to finish');
        // No further run may start within a settle window after the last one finished.
        await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
        await until(
          () => runs.every((r) => r.end !== undefined),
          'runs started in the settle window to finish',
        );
        const timeline = runs.map(
          (r) =>
            `${r.member}#${r.attempt} ${Math.round(r.start)}–${r.end === undefined ? '…' : Math.round(r.end)}${r.leaseLost ? ' (lease lost)' : ''}`,
        );
        const context = `runs ${timeline.join(', ')}; B ${bJoinedWhenLeft ? 'joined and ' : 'left before its subscribe resolved, '}left at ${Math.round(bLeftAt)}; settled ${JSON.stringify(log.settled)}; errors ${JSON.stringify(errors)}`;
        const ofMessage = runs.filter((r) => r.id === id).sort((x, y) => x.start - y.start);
        for (let i = 1; i < ofMessage.length; i++) {
          expect(
            ofMessage[i]!.start,
            `run ${i + 1} starts after run ${i} ended: ${context}`,
          ).toBeGreaterThanOrEqual(ofMessage[i - 1]!.end!);
        }
        expect(ofMessage.length, `handler runs of the message: ${context}`).toBe(1);
        expect(aRunningWhenBLeft, `A's handler still running when B left: ${context}`).toBe(true);
        expect(ofMessage[0]!.member, context).toBe('A');
        expect(ofMessage[0]!.leaseLost, `member A lost its lease: ${context}`).toBe(false);
        expect(
          log.settled.filter((s) => s.id === id),
          `settlements of the message: ${context}`,
        ).toEqual([{ id, kind: 'ack' }]);
      });

      it('close() lets publishes in flight finish: every one resolves and is delivered', async () => {
        const c = await carrier();
        const topic = freshName('close-publishing');
        await c.declare(topic, ['g']);
        const count = 100;
        const outcomes = Array.from({ length: count }, (_, i) =>
          c.publish(topic, { i }).then(
            (r) => ({ ok: true as const, id: r.id }),
            (error: unknown) => ({ ok: false as const, error: String(error) }),
          ),
        );
        await c.close();
        const settled = await Promise.all(outcomes);
        expect(
          settled.filter((o) => !o.ok),
          'publishes in flight that close() cut off',
        ).toEqual([]);
        await expectCode(c.publish(topic, 'after close'), 'CLOSED');
        const ids = settled.flatMap((o) => (o.ok ? [o.id] : []));
        const c2 = await carrier();
        const got = new Set<string>();
        await c2.subscribe(topic, { group: 'g', concurrency: 8, prefetch: 16 }, (m) => {
          got.add(m.id);
        });
        await until(() => got.size >= count, `all ${count} messages`);
        expect([...got].sort()).toEqual([...ids].sort());
      });
    });

    it('rejects invalid names before touching the broker', async () => {
      const c = await carrier();
      for (const bad of [
        '',
        'has space',
        'a..b',
        'trailing.',
        '-lead',
        'x'.repeat(101),
        'ünïcode',
        'a/b',
        'a*b',
        'a>b',
      ]) {
        await expectCode(c.publish(bad, 'x'), 'INVALID_NAME');
        await expectCode(
          c.subscribe(bad, { group: 'g' }, () => {}),
          'INVALID_NAME',
        );
        await expectCode(
          c.subscribe('ok-topic', { group: bad }, () => {}),
          'INVALID_NAME',
        );
      }
    });

    it('enforces the declared message size limit with MESSAGE_TOO_LARGE and accepts messages under it', async () => {
      const c = await carrier();
      const topic = freshName('size');
      const limit = c.capabilities.maxMessageBytes;
      await expectCode(c.publish(topic, new Uint8Array(limit + 1)), 'MESSAGE_TOO_LARGE');
      const got: Message[] = [];
      await c.subscribe(topic, { group: 'g' }, (m) => {
        got.push(m);
      });
      const big = new Uint8Array(Math.floor(limit * 0.9)).map((_, i) => i % 251);
      await c.publish(topic, big, { headers: { size: String(big.length) } });
      await until(() => got.length >= 1, 'large message');
      expect(Buffer.from(got[0]!.raw).equals(Buffer.from(big))).toBe(true);
    });

    it('rejects publish and subscribe after close with CLOSED', async () => {
      const c = await carrier();
      await c.close();
      await expectCode(c.publish(freshName('closed'), 'x'), 'CLOSED');
      await expectCode(
        c.subscribe(freshName('closed'), { group: 'g' }, () => {}),
        'CLOSED',
      );
    });

    it('fails with UNSUPPORTED when asked for what the transport cannot do', async () => {
      const c = await carrier();
      const topic = freshName('unsupported');
      const caps = c.capabilities;
      const maxDelayMs = caps.maxDelayMs + 1;
      await expectCode(
        c.subscribe(
          topic,
          { group: 'g', retry: { maxAttempts: 2, initialDelayMs: maxDelayMs, maxDelayMs } },
          () => {},
        ),
        'UNSUPPORTED',
      );
      if (!caps.perKeyOrder)
        await expectCode(
          c.subscribe(topic, { group: 'g', ordered: true }, () => {}),
          'UNSUPPORTED',
        );
      if (!caps.fanOut) await expectCode(c.declare(topic, ['a', 'b']), 'UNSUPPORTED');
    });
  });
}
