import type { MessageProperties } from 'amqplib';
import { describe, expect, it } from 'vitest';
import {
  ATTEMPT_HEADER,
  copyProperties,
  DEAD_LETTER_REASON_HEADER,
  decodeMessage,
  encodeMessage,
  KEY_HEADER,
  PUBLISHED_AT_HEADER,
  routingKeyFor,
} from './wire.js';

const publishedAt = new Date('2026-11-23T10:00:00.123Z');
const message = {
  id: 'm-1',
  key: 'customer-7',
  headers: { tenant: 'acme', note: 'naïve ✓' },
  contentType: 'application/json',
  body: new TextEncoder().encode('{"a":1}'),
  publishedAt,
};

type LooseProperties = Partial<Omit<MessageProperties, 'headers'>> & {
  headers?: Record<string, unknown> | undefined;
};

function props(p: LooseProperties): MessageProperties {
  return {
    contentType: undefined,
    contentEncoding: undefined,
    headers: undefined,
    deliveryMode: undefined,
    priority: undefined,
    correlationId: undefined,
    replyTo: undefined,
    expiration: undefined,
    messageId: undefined,
    timestamp: undefined,
    type: undefined,
    userId: undefined,
    appId: undefined,
    clusterId: undefined,
    ...p,
  } as MessageProperties;
}

describe('wire format', () => {
  it('encodes id, content type, timestamp, key and user headers as AMQP properties', () => {
    const o = encodeMessage(message);
    expect(o.messageId).toBe('m-1');
    expect(o.contentType).toBe('application/json');
    expect(o.timestamp).toBe(Math.floor(publishedAt.getTime() / 1000));
    expect(o.persistent).toBe(true);
    expect(o.mandatory).toBe(true);
    expect(o.headers).toEqual({
      tenant: 'acme',
      note: 'naïve ✓',
      [KEY_HEADER]: 'customer-7',
      [PUBLISHED_AT_HEADER]: String(publishedAt.getTime()),
    });
  });

  it('decodes what it encodes, with millisecond publish time and attempt 1', () => {
    const o = encodeMessage(message);
    const d = decodeMessage({
      content: Buffer.from(message.body),
      properties: props({
        messageId: o.messageId,
        contentType: o.contentType,
        timestamp: o.timestamp,
        headers: o.headers,
      }),
      fields: { redelivered: false },
    });
    expect(d.message).toEqual({ ...message, body: new Uint8Array(message.body) });
    expect(d.attempt).toBe(1);
    expect(d.deadLetter).toBeUndefined();
  });

  it('decodes native messages: any header type as a string, stable derived id, octet-stream, second timestamp', () => {
    const d = decodeMessage(
      {
        content: Buffer.from([1, 2, 3]),
        properties: props({
          timestamp: 1_700_000_000,
          headers: { n: 42, b: true, s: Buffer.from('bytes'), 'x-death': [{}] },
        }),
        fields: { redelivered: false },
      },
      () => new Date(0),
    );
    expect(d.message.headers).toEqual({ n: '42', b: 'true', s: 'bytes' });
    expect(d.message.id).toMatch(/^native-[0-9a-f]{32}$/);
    const again = decodeMessage({
      content: Buffer.from([1, 2, 3]),
      properties: props({
        timestamp: 1_700_000_000,
        headers: { n: 42, b: true, s: Buffer.from('bytes'), 'x-delivery-count': 3 },
      }),
      fields: { redelivered: true },
    });
    expect(again.message.id, 'a redelivery keeps the id').toBe(d.message.id);
    const other = decodeMessage({
      content: Buffer.from([1, 2, 4]),
      properties: props({ timestamp: 1_700_000_000, headers: { n: 42, b: true, s: Buffer.from('bytes') } }),
      fields: { redelivered: false },
    });
    expect(other.message.id).not.toBe(d.message.id);
    expect(d.message.contentType).toBe('application/octet-stream');
    expect(d.message.publishedAt.getTime()).toBe(1_700_000_000_000);
    expect(d.message.key).toBeUndefined();
  });

  it("counts attempts: carrier-attempt plus the broker's redeliveries", () => {
    const base = { content: Buffer.alloc(0), fields: { redelivered: true } };
    expect(decodeMessage({ ...base, properties: props({ headers: { [ATTEMPT_HEADER]: 3 } }) }).attempt).toBe(
      4,
    );
    expect(
      decodeMessage({ ...base, properties: props({ headers: { 'x-delivery-count': 2 } }) }).attempt,
    ).toBe(3);
    expect(
      decodeMessage({
        ...base,
        properties: props({ headers: { [ATTEMPT_HEADER]: '2', 'x-delivery-count': 0 } }),
      }).attempt,
    ).toBe(2);
  });

  it('copies keep properties and native headers, drop broker headers, expiration and user id, and set attempt/dead-letter', () => {
    const failedAt = new Date('2026-11-23T11:00:00Z');
    const original = props({
      messageId: 'm-1',
      contentType: 'text/plain',
      correlationId: 'c',
      expiration: '1000',
      userId: 'guest',
      timestamp: 5,
      headers: {
        tenant: 'acme',
        n: 7,
        [ATTEMPT_HEADER]: 2,
        'x-death': [{}],
        'x-delivery-count': 1,
        [KEY_HEADER]: 'k',
        // a delayed publish's route (publish-delay.ts): its copies are not delayed again
        'carrier-delay-topic': 'orders',
        'carrier-deliver-at': '2026-11-23T10:00:00.000Z',
      },
    });
    const retry = copyProperties(original, { id: 'm-1', attempt: 3, deadLetter: undefined });
    expect(retry).toMatchObject({
      messageId: 'm-1',
      contentType: 'text/plain',
      correlationId: 'c',
      timestamp: 5,
      persistent: true,
    });
    expect(retry.expiration).toBeUndefined();
    expect(retry.userId).toBeUndefined();
    expect(retry.headers).toEqual({ tenant: 'acme', n: 7, [ATTEMPT_HEADER]: 3, [KEY_HEADER]: 'k' });
    const dead = copyProperties(original, {
      id: 'm-1',
      attempt: 2,
      deadLetter: { reason: 'boom', attempts: 2, failedAt },
    });
    expect(dead.headers[DEAD_LETTER_REASON_HEADER]).toBe('boom');
    const decoded = decodeMessage({
      content: Buffer.alloc(0),
      properties: props(dead),
      fields: { redelivered: false },
    });
    expect(decoded.deadLetter).toEqual({ reason: 'boom', attempts: 2, failedAt });
    const redriven = copyProperties(props(dead), { id: 'm-1', attempt: undefined, deadLetter: undefined });
    expect(redriven.headers).toEqual({ tenant: 'acme', n: 7, [KEY_HEADER]: 'k' });
  });

  it('uses the key as routing key only when it fits 255 bytes', () => {
    expect(routingKeyFor('customer.7')).toBe('customer.7');
    expect(routingKeyFor(undefined)).toBe('');
    expect(routingKeyFor('é'.repeat(128))).toBe('');
  });
});

describe('metadata and header keys', () => {
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const received = (o: ReturnType<typeof encodeMessage>) => ({
    content: Buffer.from('x'),
    properties: props({ ...o, headers: o.headers as Record<string, unknown> }),
    fields: { redelivered: false },
  });

  it('puts correlation id and reply address in the AMQP properties when they fit, else in headers', () => {
    const metadata = { correlationId: 'c-1', replyTo: 'replies', traceparent, schemaId: 's' };
    const o = encodeMessage({ ...message, metadata });
    expect(o.correlationId).toBe('c-1');
    expect(o.replyTo).toBe('replies');
    expect(o.headers).toMatchObject({ traceparent, 'carrier-meta-schema-id': 's' });
    expect(o.headers).not.toHaveProperty('carrier-meta-correlation-id');
    expect(decodeMessage(received(o)).message.metadata).toEqual(metadata);
    const long = { correlationId: 'c'.repeat(256) };
    const l = encodeMessage({ ...message, metadata: long });
    expect(l.correlationId).toBeUndefined();
    expect(l.headers).toMatchObject({ 'carrier-meta-correlation-id': long.correlationId });
    expect(decodeMessage(received(l)).message.metadata).toEqual(long);
  });

  it("reads a native message's correlation_id and reply_to as metadata", () => {
    const decoded = decodeMessage({
      content: Buffer.from('x'),
      properties: props({ correlationId: 'native', replyTo: 'amq.rabbitmq.reply-to' }),
      fields: { redelivered: false },
    });
    expect(decoded.message.metadata).toEqual({ correlationId: 'native', replyTo: 'amq.rabbitmq.reply-to' });
  });

  it('carries a user header whose name RabbitMQ owns under carrier-header-', () => {
    const o = encodeMessage({ ...message, headers: { 'x-death': 'mine', 'x-delivery-count': '9' } });
    expect(o.headers).toMatchObject({
      'carrier-header-x-death': 'mine',
      'carrier-header-x-delivery-count': '9',
    });
    expect(o.headers).not.toHaveProperty('x-death');
    expect(decodeMessage(received(o)).message.headers).toEqual({
      'x-death': 'mine',
      'x-delivery-count': '9',
    });
  });
});
