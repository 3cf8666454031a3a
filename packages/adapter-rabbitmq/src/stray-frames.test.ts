import type { ChannelModel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { StrayDeliveryFilter } from './stray-frames.js';

const DELIVER = (60 << 16) | 60;

function fakeModel() {
  const seen: unknown[] = [];
  const connection = {
    accept(frame: unknown) {
      seen.push(frame);
    },
  };
  return { model: { connection } as unknown as ChannelModel, connection, seen };
}

const deliver = (channel: number, consumerTag: string) => ({
  channel,
  id: DELIVER,
  fields: { consumerTag, deliveryTag: 1 },
});
const header = (channel: number, size: number) => ({ channel, id: 60, size, fields: {} });
const body = (channel: number, n: number) => ({ channel, content: Buffer.alloc(n) });

describe('StrayDeliveryFilter', () => {
  it('drops a delivery for a retired consumer with its header and body frames, and nothing else', () => {
    const { model, connection, seen } = fakeModel();
    const filter = new StrayDeliveryFilter(model);
    filter.retire('old');
    const frames = [
      deliver(2, 'old'),
      header(2, 10),
      body(2, 6),
      body(2, 4),
      deliver(2, 'new'),
      header(2, 3),
      body(2, 3),
      deliver(3, 'old'),
      header(3, 0), // empty body: no body frame follows
      { channel: 3, id: 3932200, fields: {} }, // any other method passes
    ];
    for (const f of frames) connection.accept(f);
    expect(seen).toEqual([frames[4], frames[5], frames[6], frames[9]]);
    expect(filter.dropped).toBe(2);
  });

  it('passes everything through when no consumer is retired', () => {
    const { model, connection, seen } = fakeModel();
    new StrayDeliveryFilter(model);
    const frames = [deliver(1, 'a'), header(1, 2), body(1, 2)];
    for (const f of frames) connection.accept(f);
    expect(seen).toEqual(frames);
  });

  it('does nothing when amqplib has no frame dispatcher to wrap', () => {
    const model = { connection: {} } as unknown as ChannelModel;
    expect(() => new StrayDeliveryFilter(model).retire('x')).not.toThrow();
  });
});
