import { describe, expect, it } from 'vitest';
import { Carrier } from './carrier.js';
import { textCodec } from './codecs.js';
import { CarrierError } from './errors.js';
import { FakeTransport } from './testing/fake-transport.js';

describe('carrier.encode', () => {
  it('returns the wire messages publishBatch would send, and sends nothing', async () => {
    const transport = new FakeTransport();
    const carrier = new Carrier(transport, () => {});
    const [wire] = await carrier.encode('t', [
      { body: { a: 1 }, key: 'k', headers: { h: 'v' }, id: 'id-1', metadata: { correlationId: 'c' } },
    ]);
    expect(transport.published).toEqual([]);
    expect(wire!.id).toBe('id-1');
    expect(wire!.key).toBe('k');
    expect(wire!.headers).toEqual({ h: 'v' });
    expect(wire!.metadata).toEqual({ correlationId: 'c' });
    expect(wire!.contentType).toBe('application/json');
    expect(new TextDecoder().decode(wire!.body)).toBe('{"a":1}');
    expect(wire!.publishedAt).toBeInstanceOf(Date);
  });

  it('uses the codec given, and republishing the result sends the same bytes, id and content type', async () => {
    const transport = new FakeTransport();
    const carrier = new Carrier(transport, () => {});
    const [wire] = await carrier.encode('t', [{ body: 'héllo' }], { codec: textCodec });
    await carrier.publishBatch('t', [
      {
        body: wire!.body,
        contentType: wire!.contentType,
        id: wire!.id,
        key: wire!.key,
        headers: wire!.headers,
      },
    ]);
    const sent = transport.published[0]!.messages[0]!;
    expect(sent.id).toBe(wire!.id);
    expect(sent.contentType).toBe(wire!.contentType);
    expect([...sent.body]).toEqual([...wire!.body]);
  });

  it('refuses what publish refuses, and everything once closed', async () => {
    const carrier = new Carrier(new FakeTransport(), () => {});
    await expect(carrier.encode('bad topic!', [{ body: 1 }])).rejects.toMatchObject({ code: 'INVALID_NAME' });
    await expect(carrier.encode('t', [{ body: 1, id: '' }])).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await carrier.close();
    const error = await carrier.encode('t', [{ body: 1 }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('CLOSED');
  });
});
