import { afterEach, describe, expect, it } from 'vitest';
import type { Carrier } from './carrier.js';
import type { Codec, DecodeContext, EncodeContext } from './codec-spi.js';
import { jsonCodec } from './codecs.js';
import { connect } from './connect.js';
import { CarrierError, type CarrierErrorCode, NonRetryableError } from './errors.js';
import type { DeadLetter, Message } from './message.js';
import { fakeCarriers } from './testing/setup.js';
import { waitFor } from './testing/wait.js';

const CONTENT_TYPE = 'application/vnd.carrier.test.reversed';

interface Point {
  x: number;
  y: number;
}

/**
 * An asynchronous codec (as a schema codec that asks its registry): JSON reversed byte for byte,
 * with its own content type and schema id, recording what it was told.
 */
function reversedCodec(schemaId = '7') {
  const encodes: EncodeContext[] = [];
  const decodes: DecodeContext[] = [];
  const codec: Codec<Point> = {
    name: 'reversed',
    contentType: CONTENT_TYPE,
    async encode(value, context) {
      encodes.push(context);
      await new Promise((resolve) => setTimeout(resolve, 1));
      const bytes = new TextEncoder().encode(JSON.stringify(value)).reverse();
      return { bytes, contentType: CONTENT_TYPE, schemaId };
    },
    async decode(bytes, context) {
      decodes.push(context);
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (bytes[0] !== 0x7d)
        throw new CarrierError('DECODE_FAILED', 'not a reversed JSON object (it does not start with })');
      return JSON.parse(new TextDecoder().decode(bytes.slice().reverse())) as Point;
    },
  };
  return { codec, encodes, decodes };
}

const open: Carrier[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
});

async function memory(): Promise<Carrier> {
  const carrier = await connect(`memory://codec-${Math.random().toString(36).slice(2)}`);
  open.push(carrier);
  return carrier;
}

async function codeOf(promise: Promise<unknown>): Promise<CarrierErrorCode | string | undefined> {
  try {
    await promise;
  } catch (e) {
    return e instanceof CarrierError ? e.code : `not a CarrierError: ${String(e)}`;
  }
  return undefined;
}

const fake = fakeCarriers();

describe('the codec option', () => {
  it('publishes with an asynchronous codec and consumes with it on the memory transport, schema id in metadata', async () => {
    const carrier = await memory();
    const { codec, encodes, decodes } = reversedCodec();
    const got: Message<Point>[] = [];
    await carrier.subscribe<Point>('points', { group: 'g', codec }, (m) => {
      got.push(m);
    });
    await carrier.publish('points', { x: 1, y: 2 }, { codec });
    await waitFor(() => got.length === 1);
    const [message] = got;
    expect(message!.body).toEqual({ x: 1, y: 2 });
    expect(message!.contentType).toBe(CONTENT_TYPE);
    expect(new TextDecoder().decode(message!.raw)).toBe('}2:"y",1:"x"{');
    expect(message!.metadata.schemaId).toBe('7');
    expect(encodes[0]).toMatchObject({ topic: 'points' });
    expect(decodes[0]).toMatchObject({
      topic: 'points',
      contentType: CONTENT_TYPE,
      metadata: { schemaId: '7' },
    });
    expect(decodes[0]!.signal).toBeInstanceOf(AbortSignal);
  });

  it("replaces a schema id given in metadata with the codec's, and keeps it when the codec gives none", async () => {
    const { transport, carrier } = fake();
    const { codec } = reversedCodec('42');
    await carrier.publish(
      't',
      { x: 1, y: 1 },
      { codec, metadata: { schemaId: 'copied-from-a-forwarded-message' } },
    );
    await carrier.publish('t', { a: 1 }, { codec: jsonCodec, metadata: { schemaId: 'urn:orders:v1' } });
    expect(transport.published.map((p) => p.messages[0]!.metadata?.schemaId)).toEqual([
      '42',
      'urn:orders:v1',
    ]);
  });

  it('encodes a batch with the call codec unless an entry names its own', async () => {
    const { transport, carrier } = fake();
    const { codec } = reversedCodec();
    await carrier.publishBatch(
      't',
      [{ body: { x: 1, y: 2 } }, { body: { plain: true }, codec: jsonCodec }, { body: { x: 3, y: 4 } }],
      { codec },
    );
    const messages = transport.published[0]!.messages;
    expect(messages.map((m) => m.contentType)).toEqual([CONTENT_TYPE, 'application/json', CONTENT_TYPE]);
    expect(new TextDecoder().decode(messages[1]!.body)).toBe('{"plain":true}');
  });

  it('keeps the synchronous path: a synchronous codec reaches the transport in the same turn, an async one later', async () => {
    const { transport, carrier } = fake();
    const sync = carrier.publish('t', { a: 1 }, { codec: jsonCodec });
    expect(transport.log).toEqual(['publish t']);
    await sync;
    const plain = carrier.publish('t', { a: 1 });
    expect(transport.log).toEqual(['publish t', 'publish t']);
    await plain;
    const later = carrier.publish('t', { x: 1, y: 1 }, { codec: reversedCodec().codec });
    expect(transport.log).toHaveLength(2);
    await later;
    expect(transport.log).toHaveLength(3);
  });

  it('propagates what the codec throws, unchanged, and sends nothing of the batch', async () => {
    const { transport, carrier } = fake();
    for (const code of ['INVALID_MESSAGE', 'ENCODE_FAILED', 'SCHEMA_INCOMPATIBLE'] as const) {
      const thrown = new CarrierError(code, `refused: ${code}`, { issues: [{ message: 'm', path: ['a'] }] });
      const failing: Codec = {
        name: 'failing',
        contentType: 'application/x-failing',
        encode: async () => {
          throw thrown;
        },
        decode: (bytes) => bytes,
      };
      const error = await carrier
        .publishBatch('t', [
          { body: 1, codec: jsonCodec },
          { body: 2, codec: failing },
        ])
        .catch((e: unknown) => e);
      expect(error).toBe(thrown);
      const syncFailing: Codec = {
        ...failing,
        encode: () => {
          throw thrown;
        },
      };
      expect(await carrier.publish('t', 1, { codec: syncFailing }).catch((e: unknown) => e)).toBe(thrown);
    }
    expect(transport.published).toEqual([]);
  });

  it('refuses a codec that returns no bytes, a bad content type or schema id with ENCODE_FAILED', async () => {
    const { transport, carrier } = fake();
    const returning = (encoded: unknown): Codec => ({
      name: 'odd',
      contentType: 'x/y',
      encode: () => encoded as never,
      decode: (bytes) => bytes,
    });
    const bytes = new Uint8Array([1]);
    for (const encoded of [
      undefined,
      { bytes: 'text', contentType: 'x/y' },
      { bytes },
      { bytes, contentType: 'a\r\nb' },
      { bytes, contentType: 'x/y', schemaId: '' },
      { bytes, contentType: 'x/y', schemaId: 'a\nb' },
    ])
      expect(await codeOf(carrier.publish('t', 1, { codec: returning(encoded) }))).toBe('ENCODE_FAILED');
    expect(transport.published).toEqual([]);
  });

  it('refuses a value that is not a codec, and codec with contentType or decode: false, with INVALID_ARGUMENT', async () => {
    const { transport, carrier } = fake();
    const notACodec = { encode: 'no' } as unknown as Codec;
    expect(await codeOf(carrier.publish('t', 1, { codec: notACodec }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(carrier.publishBatch('t', [{ body: 1 }], { codec: notACodec }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await codeOf(carrier.publish('t', 1, { codec: jsonCodec, contentType: 'application/json' }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await codeOf(carrier.subscribe('t', { group: 'g', codec: notACodec }, () => {}))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(
      await codeOf(carrier.subscribe('t', { group: 'g', codec: jsonCodec, decode: false }, () => {})),
    ).toBe('INVALID_ARGUMENT');
    expect(transport.published).toEqual([]);
  });

  it('dead-letters a body the codec cannot decode with its reason, without calling the handler or retrying', async () => {
    const { transport, carrier } = fake();
    let calls = 0;
    await carrier.subscribe('t', { group: 'g', codec: reversedCodec().codec }, () => {
      calls++;
    });
    const delivery = transport.deliver('{"x":1}', { contentType: CONTENT_TYPE });
    await waitFor(() => delivery.settlements.length === 1);
    expect(calls).toBe(0);
    expect(delivery.settlements[0]).toMatchObject({
      kind: 'deadLetter',
      info: { reason: 'not a reversed JSON object (it does not start with })', attempts: 1 },
    });
  });

  it('retries a delivery whose codec failed for another reason (registry unreachable), handler not called', async () => {
    const { transport, carrier } = fake();
    let calls = 0;
    const unreachable: Codec = {
      name: 'registry',
      contentType: 'x/y',
      encode: () => ({ bytes: new Uint8Array(), contentType: 'x/y' }),
      decode: async () => {
        throw new CarrierError('CONNECTION', 'registry unreachable');
      },
    };
    await carrier.subscribe('t', { group: 'g', codec: unreachable, retry: { maxAttempts: 3 } }, () => {
      calls++;
    });
    const first = transport.deliver('x', { attempt: 1 });
    await waitFor(() => first.settlements.length === 1);
    expect(first.settlements[0]).toMatchObject({ kind: 'retry' });
    const last = transport.deliver('x', { attempt: 3, id: 'm2' });
    await waitFor(() => last.settlements.length === 1);
    expect(last.settlements[0]).toMatchObject({
      kind: 'deadLetter',
      info: { reason: 'registry unreachable' },
    });
    expect(calls).toBe(0);
  });

  it('decodes dead letters with the reader codec, and hands over the bytes of one it cannot decode', async () => {
    const carrier = await memory();
    const { codec } = reversedCodec();
    await carrier.subscribe('t', { group: 'g', codec }, (m) => {
      if ((m.body as Point).x === 1) throw new NonRetryableError('refused by the handler');
    });
    await carrier.publish('t', { x: 1, y: 2 }, { codec });
    const undecodable = new TextEncoder().encode('{"not":"reversed"}');
    await carrier.publish('t', undecodable, { contentType: CONTENT_TYPE });
    const letters: DeadLetter[] = [];
    await carrier.deadLetters('t', 'g').subscribe(
      (l) => {
        letters.push(l);
      },
      { codec },
    );
    await waitFor(() => letters.length === 2);
    const handled = letters.find((l) => l.reason === 'refused by the handler');
    expect(handled?.message.body).toEqual({ x: 1, y: 2 });
    const refused = letters.find((l) => l.reason !== 'refused by the handler');
    expect(refused?.message.body).toEqual(undecodable);
  });

  it('encodes a request and its reply with their codecs, and decodes the reply with replyCodec', async () => {
    const carrier = await memory();
    const { codec } = reversedCodec('9');
    await carrier.subscribe<Point>('sum', { group: 'g', codec }, async (m) => {
      await m.reply({ x: m.body.x + m.body.y, y: 0 }, { codec });
    });
    const reply = await carrier.request<Point>('sum', { x: 2, y: 3 }, { codec, replyCodec: codec });
    expect(reply.body).toEqual({ x: 5, y: 0 });
    expect(reply.contentType).toBe(CONTENT_TYPE);
    expect(reply.metadata.schemaId).toBe('9');
    // without replyCodec, the reply is decoded by its content type: bytes here
    const raw = await carrier.request('sum', { x: 1, y: 1 }, { codec });
    expect(raw.body).toBeInstanceOf(Uint8Array);
  });

  it('rejects a request whose reply its replyCodec cannot decode with the codec error', async () => {
    const carrier = await memory();
    await carrier.subscribe('echo', { group: 'g' }, async (m) => {
      await m.reply('plain text');
    });
    const error = await carrier
      .request('echo', 'hi', { replyCodec: reversedCodec().codec, timeoutMs: 5_000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('DECODE_FAILED');
    expect((error as CarrierError).message).toMatch(/reversed/);
  });
});
