import { CarrierError, type WireMessage } from '@carrier/core';
import type { KafkaMessage, Message } from 'kafkajs';
import { describe, expect, it, vi } from 'vitest';
import type { RecordHandle } from './receiver.js';
import { toDeadLetterDelivery, toDelivery } from './settlement.js';
import { deadLetterHeaders, HEADERS, retryHeaders, toRecord } from './wire.js';

const message: WireMessage = {
  id: 'm-1',
  key: 'k',
  headers: {},
  contentType: 'text/plain',
  body: new Uint8Array([0x61]),
  publishedAt: new Date('2026-11-23T10:00:00.000Z'),
};

/** A record as a consumer reads it (headers as Buffers). */
function consumed(extra: Record<string, string> = {}): KafkaMessage {
  const record = toRecord(message, extra);
  const headers: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(record.headers ?? {})) headers[k] = Buffer.from(v as string);
  return {
    key: Buffer.from('k'),
    value: record.value as Buffer,
    timestamp: '0',
    attributes: 0,
    offset: '7',
    headers,
  };
}

function handle(previousDeliveries = 0, fail?: { done?: Error; release?: Error }) {
  return {
    previousDeliveries,
    lease: new AbortController().signal,
    done: vi.fn(async () => {
      if (fail?.done) throw fail.done;
    }),
    release: vi.fn(async () => {
      if (fail?.release) throw fail.release;
    }),
    failed: vi.fn(),
  } satisfies RecordHandle;
}

const source = { topic: 'orders', group: 'billing', from: 'orders', partition: 0 };

describe('settlement', () => {
  it('the attempt is the copy’s own plus its unsettled earlier deliveries', () => {
    const h = handle(2);
    const copy = vi.fn(async () => {});
    expect(toDelivery(source, consumed(), h, copy).attempt).toBe(3);
    expect(toDelivery(source, consumed(retryHeaders(4, new Date())), h, copy).attempt).toBe(6);
  });

  it('retry writes a copy with attempt + 1 to the group’s retry topic, then marks the record done', async () => {
    const h = handle(0);
    const copy = vi.fn(async (_topic: string, _record: Message) => {});
    await toDelivery(source, consumed(), h, copy).retry(1_000);
    expect(copy).toHaveBeenCalledTimes(1);
    const [topic, record] = copy.mock.calls[0]!;
    expect(topic).toBe('orders..billing.retry');
    expect(record.headers?.[HEADERS.attempt]).toBe('2');
    expect(h.done).toHaveBeenCalledTimes(1);
    expect(h.failed).not.toHaveBeenCalled();
  });

  it('deadLetter writes to the group’s dead-letter topic', async () => {
    const h = handle(0);
    const copy = vi.fn(async (_topic: string, _record: Message) => {});
    const info = { reason: 'boom', attempts: 3, failedAt: new Date('2026-11-23T11:00:00.000Z') };
    await toDelivery(source, consumed(), h, copy).deadLetter(info);
    const [topic, record] = copy.mock.calls[0]!;
    expect(topic).toBe('orders..billing.dlq');
    expect(record.headers).toMatchObject(deadLetterHeaders(info));
  });

  it('a failed copy marks the record failed (read again), not done, and rethrows', async () => {
    const h = handle(0);
    const refused = new CarrierError('SETTLE_FAILED', 'refused');
    const copy = vi.fn(async () => {
      throw refused;
    });
    await expect(toDelivery(source, consumed(), h, copy).retry(0)).rejects.toBe(refused);
    expect(h.failed).toHaveBeenCalledTimes(1);
    expect(h.done).not.toHaveBeenCalled();
  });

  it('a failed commit rejects with SETTLE_FAILED', async () => {
    const h = handle(0, { done: new Error('rebalancing'), release: new Error('rebalancing') });
    const delivery = toDelivery(
      source,
      consumed(),
      h,
      vi.fn(async () => {}),
    );
    await expect(delivery.ack()).rejects.toMatchObject({ code: 'SETTLE_FAILED' });
    await expect(delivery.release()).rejects.toMatchObject({ code: 'SETTLE_FAILED' });
    expect(h.failed).not.toHaveBeenCalled();
  });

  it('a dead letter carries its headers’ info, or a fallback for a foreign record', async () => {
    const info = { reason: 'boom', attempts: 3, failedAt: new Date('2026-11-23T11:00:00.000Z') };
    expect(toDeadLetterDelivery('t', 0, consumed(deadLetterHeaders(info)), handle()).info).toEqual(info);
    expect(toDeadLetterDelivery('t', 0, consumed(), handle()).info).toEqual({
      reason: 'unknown',
      attempts: 1,
      failedAt: message.publishedAt,
    });
    const h = handle(0, { done: new Error('gone') });
    await expect(toDeadLetterDelivery('t', 0, consumed(), h).ack()).rejects.toMatchObject({
      code: 'SETTLE_FAILED',
    });
  });
});
