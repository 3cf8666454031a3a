import * as v from 'valibot';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import type { Carrier } from './carrier.js';
import type { Codec } from './codec-spi.js';
import { jsonCodec } from './codecs.js';
import { connect } from './connect.js';
import { type CarrierError, isCarrierError } from './errors.js';
import type { DeadLetter, Message, PublishReceipt } from './message.js';
import { waitFor } from './testing/wait.js';

const open: Carrier[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
});

async function memory(): Promise<Carrier> {
  const carrier = await connect(`memory://topic-${Math.random().toString(36).slice(2)}`);
  open.push(carrier);
  return carrier;
}

function fresh(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2)}`;
}

const zodOrder = z.object({
  id: z.string(),
  amount: z.number().positive(),
  lines: z.array(z.object({ sku: z.string(), qty: z.number().int() })).default([]),
});

const valibotOrder = v.object({
  id: v.string(),
  amount: v.pipe(v.number(), v.minValue(0.01)),
  lines: v.optional(v.array(v.object({ sku: v.string(), qty: v.number() })), []),
});

/** The same checks for each validator library. */
const libraries = [
  { library: 'zod', schema: zodOrder },
  { library: 'valibot', schema: valibotOrder },
] as const;

/** Collect a group's dead letters. */
async function deadLetters(carrier: Carrier, topic: string, group: string): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  await carrier.deadLetters(topic, group).subscribe((l) => {
    letters.push(l);
  });
  return letters;
}

describe.each(libraries)('a typed topic with a $library schema', ({ schema }) => {
  it('delivers a valid body as the validator output (defaults applied)', async () => {
    const carrier = await memory();
    const orders = carrier.topic(fresh('orders'), { schema });
    const got: Message<{ id: string; amount: number; lines: { sku: string; qty: number }[] }>[] = [];
    await orders.subscribe({ group: 'g' }, (m) => {
      got.push(m);
    });
    await orders.publish({ id: 'o1', amount: 12.5 });
    await orders.publishBatch([{ body: { id: 'o2', amount: 1, lines: [{ sku: 'a', qty: 2 }] }, key: 'k' }]);
    await waitFor(() => got.length === 2);
    expect(got.map((m) => m.body)).toEqual([
      { id: 'o1', amount: 12.5, lines: [] },
      { id: 'o2', amount: 1, lines: [{ sku: 'a', qty: 2 }] },
    ]);
    expect(new TextDecoder().decode(got[0]!.raw)).toBe('{"id":"o1","amount":12.5}');
  });

  it('refuses an invalid body on publish with INVALID_MESSAGE and its issues, delivering nothing', async () => {
    const carrier = await memory();
    const orders = carrier.topic(fresh('orders'), { schema });
    const got: unknown[] = [];
    await orders.subscribe({ group: 'g' }, (m) => {
      got.push(m.body);
    });
    const invalid = { id: 'o1', amount: -1 };
    const error = await orders.publish(invalid).catch((e: unknown) => e);
    expect(isCarrierError(error, 'INVALID_MESSAGE')).toBe(true);
    expect((error as CarrierError).issues).toEqual([{ message: expect.any(String), path: ['amount'] }]);
    expect((error as CarrierError).message).toMatch(
      /^body does not match the schema of topic orders-\w+: amount: /,
    );
    const batch = await orders
      .publishBatch([{ body: { id: 'ok', amount: 1 } }, { body: { id: 7 } as never }])
      .catch((e: unknown) => e);
    expect(isCarrierError(batch, 'INVALID_MESSAGE')).toBe(true);
    expect((batch as CarrierError).issues.map((i) => i.path)).toContainEqual(['id']);
    // a marker published after: once it arrives, nothing of the refused calls could still come
    await orders.publish({ id: 'marker', amount: 1 });
    await waitFor(() => got.length === 1);
    expect(got).toEqual([{ id: 'marker', amount: 1, lines: [] }]);
  });

  it('dead-letters a body that fails validation on delivery with the issues as reason, handler not called, no retries', async () => {
    const carrier = await memory();
    const topic = fresh('orders');
    const orders = carrier.topic(topic, { schema });
    let calls = 0;
    await orders.subscribe({ group: 'g', retry: { maxAttempts: 5, initialDelayMs: 10 } }, () => {
      calls++;
    });
    const letters = await deadLetters(carrier, topic, 'g');
    // published raw, bypassing the handle (an older or foreign producer)
    await carrier.publish(topic, { id: 'o1', amount: 'twelve', lines: [{ sku: 3, qty: 1 }] });
    await waitFor(() => letters.length === 1);
    const [letter] = letters;
    expect(letter!.reason).toMatch(/^body does not match the schema of topic orders-\w+: /);
    expect(letter!.reason).toContain('amount: ');
    expect(letter!.reason).toContain('lines.0.sku: ');
    expect(letter!.attempts).toBe(1);
    expect(letter!.message.body).toEqual({ id: 'o1', amount: 'twelve', lines: [{ sku: 3, qty: 1 }] });
    expect(calls).toBe(0);
  });

  it('keeps the fields a newer producer added through a forwarder that republishes the body', async () => {
    const carrier = await memory();
    const source = carrier.topic(fresh('orders'), { schema });
    const target = carrier.topic(fresh('billed'), { schema });
    const forwarded: Message<unknown>[] = [];
    await target.subscribe({ group: 'g' }, (m) => {
      forwarded.push(m);
    });
    // the forwarder knows the old schema only; it edits a known field and publishes on
    await source.subscribe({ group: 'forwarder' }, async (m) => {
      await target.publish({ ...m.body, amount: m.body.amount * 2 });
    });
    const newer = {
      id: 'o1',
      amount: 10,
      currency: 'EUR',
      customer: { tier: 'gold', since: 2020 },
      lines: [{ sku: 'a', qty: 1, giftWrap: true }],
    };
    await carrier.publish(source.name, newer);
    await waitFor(() => forwarded.length === 1);
    const wire = JSON.parse(new TextDecoder().decode(forwarded[0]!.raw)) as unknown;
    expect(wire).toEqual({ ...newer, amount: 20 });
    expect(forwarded[0]!.body).toEqual({ ...newer, amount: 20 });
  });
});

describe('typed topics', () => {
  it('validates asynchronously when the validator answers with a promise', async () => {
    const carrier = await memory();
    const refine = z.object({ id: z.string() }).refine(async (o) => o.id !== 'taken', 'id is taken');
    const topic = carrier.topic(fresh('async'), { schema: refine });
    const got: unknown[] = [];
    await topic.subscribe({ group: 'g' }, (m) => {
      got.push(m.body);
    });
    const error = await topic.publish({ id: 'taken' }).catch((e: unknown) => e);
    expect((error as CarrierError).issues).toEqual([{ message: 'id is taken' }]);
    await topic.publish({ id: 'free' });
    await waitFor(() => got.length === 1);
    expect(got).toEqual([{ id: 'free' }]);
  });

  it('encodes what the schema validated with the topic codec', async () => {
    const carrier = await memory();
    const seen: string[] = [];
    const tagged: Codec<unknown> = {
      name: 'tagged',
      contentType: 'application/vnd.tagged+json',
      encode: (value, context) => {
        seen.push(`encode ${context.topic}`);
        return {
          ...(jsonCodec.encode(value, context) as { bytes: Uint8Array }),
          contentType: 'application/vnd.tagged+json',
          schemaId: '3',
        };
      },
      decode: (bytes, context) => {
        seen.push(`decode ${context.contentType}`);
        return jsonCodec.decode(bytes, context);
      },
    };
    const name = fresh('tagged');
    const topic = carrier.topic(name, { schema: z.object({ n: z.number() }), codec: tagged });
    const got: Message<{ n: number }>[] = [];
    await topic.subscribe({ group: 'g' }, (m) => {
      got.push(m);
    });
    expect(
      isCarrierError(await topic.publish({ n: 'x' } as never).catch((e: unknown) => e), 'INVALID_MESSAGE'),
    ).toBe(true);
    expect(seen).toEqual([]);
    await topic.publish({ n: 1 });
    await waitFor(() => got.length === 1);
    expect(got[0]!.body).toEqual({ n: 1 });
    expect(got[0]!.metadata.schemaId).toBe('3');
    expect(seen).toEqual([`encode ${name}`, 'decode application/vnd.tagged+json']);
  });

  it('a topic without a schema or codec behaves as the carrier does', async () => {
    const carrier = await memory();
    const topic = carrier.topic(fresh('plain'));
    const got: Message[] = [];
    await topic.subscribe({ group: 'g' }, (m) => {
      got.push(m);
    });
    await topic.publish('text');
    await waitFor(() => got.length === 1);
    expect(got[0]).toMatchObject({ body: 'text', contentType: 'text/plain; charset=utf-8' });
  });

  it('serves a request with a validated body', async () => {
    const carrier = await memory();
    const adder = carrier.topic(fresh('add'), { schema: z.object({ a: z.number(), b: z.number() }) });
    await adder.subscribe({ group: 'g' }, async (m) => {
      await m.reply({ sum: m.body.a + m.body.b });
    });
    const reply = await adder.request<{ sum: number }>({ a: 2, b: 3 });
    expect(reply.body).toEqual({ sum: 5 });
    expect(
      isCarrierError(await adder.request({ a: 2 } as never).catch((e: unknown) => e), 'INVALID_MESSAGE'),
    ).toBe(true);
  });

  it('reads dead letters decoded but not validated', async () => {
    const carrier = await memory();
    const name = fresh('dl');
    const topic = carrier.topic(name, { schema: z.object({ n: z.number() }) });
    await topic.subscribe({ group: 'g' }, () => {});
    await carrier.publish(name, { n: 'not a number' });
    const letters: DeadLetter[] = [];
    await topic.deadLetters('g').subscribe((l) => {
      letters.push(l);
    });
    await waitFor(() => letters.length === 1);
    expect(letters[0]!.message.body).toEqual({ n: 'not a number' });
    expect(letters[0]!.reason).toMatch(/n: /);
  });

  it('refuses a schema that is not a Standard Schema, a bad codec and a bad name', async () => {
    const carrier = await memory();
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as CarrierError).code;
      }
      return undefined;
    };
    expect(codeOf(() => carrier.topic('t', { schema: { parse: () => 1 } as never }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(codeOf(() => carrier.topic('t', { codec: {} as never }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => carrier.topic('bad name!'))).toBe('INVALID_NAME');
  });
});

describe('typed topic types', () => {
  it('infers publish and handler bodies from a zod schema (input for publish, output for the handler)', async () => {
    const carrier = await memory();
    const orders = carrier.topic('orders', { schema: zodOrder });
    type In = { id: string; amount: number; lines?: { sku: string; qty: number }[] | undefined };
    type Out = { id: string; amount: number; lines: { sku: string; qty: number }[] };
    expectTypeOf(orders.publish).parameter(0).toEqualTypeOf<In>();
    expectTypeOf(orders.publish).returns.toEqualTypeOf<Promise<PublishReceipt>>();
    expectTypeOf(orders.subscribe).parameter(1).parameter(0).toEqualTypeOf<Message<Out>>();
    expectTypeOf(orders.publishBatch).parameter(0).items.toHaveProperty('body').toEqualTypeOf<In>();
    // @ts-expect-error amount must be a number
    void orders.publish({ id: 'x', amount: '1' }).catch(() => {});
  });

  it('infers publish and handler bodies from a valibot schema', async () => {
    const carrier = await memory();
    const orders = carrier.topic('orders', { schema: valibotOrder });
    type In = v.InferInput<typeof valibotOrder>;
    type Out = v.InferOutput<typeof valibotOrder>;
    expectTypeOf(orders.publish).parameter(0).toEqualTypeOf<In>();
    expectTypeOf(orders.subscribe).parameter(1).parameter(0).toEqualTypeOf<Message<Out>>();
    expectTypeOf<Out['lines']>().toEqualTypeOf<{ sku: string; qty: number }[]>();
  });

  it('infers the body from a Codec<T>', async () => {
    const carrier = await memory();
    interface Reading {
      sensor: string;
      value: number;
    }
    const readingCodec: Codec<Reading> = {
      name: 'reading',
      contentType: 'application/json',
      encode: (value, context) => jsonCodec.encode(value, context),
      decode: (bytes, context) => jsonCodec.decode(bytes, context) as Reading,
    };
    const readings = carrier.topic('readings', { codec: readingCodec });
    expectTypeOf(readings.publish).parameter(0).toEqualTypeOf<Reading>();
    expectTypeOf(readings.subscribe).parameter(1).parameter(0).toEqualTypeOf<Message<Reading>>();
    const untyped = carrier.topic('anything');
    expectTypeOf(untyped.publish).parameter(0).toEqualTypeOf<unknown>();
    // a codec whose type does not fit the schema input is refused (compiled, never called)
    const mismatched = () =>
      // @ts-expect-error Codec<Reading> decodes no order
      carrier.topic('orders', { schema: zodOrder, codec: readingCodec });
    expectTypeOf(mismatched).toBeFunction();
  });
});
