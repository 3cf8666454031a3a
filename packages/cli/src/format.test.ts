import { CarrierError, type Message, type NativeToken } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import { messageRecord, prettyMessage } from './format.js';

function message(over: Partial<Message> = {}): Message {
  return {
    id: 'id-1',
    topic: 't',
    key: undefined,
    headers: { h: 'v' },
    body: 'x',
    raw: new TextEncoder().encode('x'),
    contentType: 'text/plain; charset=utf-8',
    attempt: 1,
    publishedAt: new Date(0),
    metadata: {},
    signal: new AbortController().signal,
    reply: async () => {
      throw new CarrierError('INVALID_ARGUMENT', 'not a request');
    },
    as: (token: NativeToken<unknown>) => {
      throw new CarrierError('UNSUPPORTED', `no native ${token}`);
    },
    ...over,
  };
}

describe('message output', () => {
  it('shows metadata only when the message has some', () => {
    expect(messageRecord(message())).not.toHaveProperty('metadata');
    const metadata = { correlationId: 'c-1', deadline: new Date('2030-01-01T00:00:00Z') };
    const record = messageRecord(message({ metadata }));
    expect(JSON.parse(JSON.stringify(record)).metadata).toEqual({
      correlationId: 'c-1',
      deadline: '2030-01-01T00:00:00.000Z',
    });
    expect(prettyMessage(message({ metadata }))).toContain(
      '   metadata: {"correlationId":"c-1","deadline":"2030-01-01T00:00:00.000Z"}',
    );
    expect(prettyMessage(message()).some((l) => l.includes('metadata'))).toBe(false);
  });
});
