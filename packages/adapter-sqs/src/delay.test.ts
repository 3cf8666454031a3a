import type { WireMessage } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import {
  FIFO_MAX_PUBLISH_DELAY_MS,
  publishDelayCapabilities,
  SQS_MAX_DELAY_SECONDS,
  STANDARD_MAX_PUBLISH_DELAY_MS,
  sendDelay,
} from './delay.js';
import { decodeMessage, deliverAtOf, encodeMessage } from './wire.js';

const now = 1_800_000_000_000;

function message(deliverAt?: Date): WireMessage {
  return {
    id: 'id-1',
    headers: {},
    contentType: 'text/plain',
    body: new TextEncoder().encode('x'),
    publishedAt: new Date(now),
    ...(deliverAt ? { deliverAt } : {}),
  };
}

describe('sendDelay', () => {
  it('sends an undelayed or already due message as it is', () => {
    expect(sendDelay(message(), 'queue', now)).toEqual({});
    expect(sendDelay(message(new Date(now - 1)), 'fifo', now)).toEqual({});
  });

  it('keeps up to 900 s in DelaySeconds on a standard queue, rounded up, and carries the due time beyond', () => {
    expect(sendDelay(message(new Date(now + 1)), 'queue', now)).toEqual({ delaySeconds: 1 });
    expect(sendDelay(message(new Date(now + 900_000)), 'queue', now)).toEqual({ delaySeconds: 900 });
    const later = new Date(now + 900_001);
    expect(sendDelay(message(later), 'queue', now)).toEqual({
      delaySeconds: SQS_MAX_DELAY_SECONDS,
      deliverAt: later,
    });
  });

  it('carries the due time for SNS fan-out and FIFO topics, refusing a FIFO delay past one visibility hold', () => {
    const at = new Date(now + 5_000);
    expect(sendDelay(message(at), 'sns', now)).toEqual({ deliverAt: at });
    expect(sendDelay(message(at), 'fifo', now)).toEqual({ deliverAt: at });
    const tooFar = message(new Date(now + FIFO_MAX_PUBLISH_DELAY_MS + 1));
    expect(() => sendDelay(tooFar, 'fifo', now)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED' }));
  });

  it('states the path of each mode in capabilities', () => {
    expect(publishDelayCapabilities({ sns: false, fifo: false })).toMatchObject({
      maxPublishDelayMs: STANDARD_MAX_PUBLISH_DELAY_MS,
      maxNativePublishDelayMs: 900_000,
    });
    expect(publishDelayCapabilities({ sns: true, fifo: false }).maxNativePublishDelayMs).toBe(0);
    expect(publishDelayCapabilities({ sns: true, fifo: true }).maxPublishDelayMs).toBe(
      FIFO_MAX_PUBLISH_DELAY_MS,
    );
  });
});

describe('the due time on the wire', () => {
  it('travels in carrier-meta and is not part of the decoded message', () => {
    const at = new Date(now + 60_000);
    const encoded = encodeMessage(message(), { deliverAt: at });
    const received = { Body: encoded.body, MessageAttributes: encoded.attributes };
    expect(deliverAtOf(received)?.getTime()).toBe(at.getTime());
    const decoded = decodeMessage(received);
    expect(decoded.deliverAt?.getTime()).toBe(at.getTime());
    expect(decoded.message.deliverAt).toBeUndefined();
    expect(
      deliverAtOf({ Body: 'x', MessageAttributes: encodeMessage(message()).attributes }),
    ).toBeUndefined();
  });

  it('does not count a receive before the due time (a hold) as an attempt', () => {
    const at = new Date(now + 60_000);
    const { body, attributes } = encodeMessage(message(), { deliverAt: at });
    const received = (count: number, firstReceive: number) =>
      decodeMessage({
        Body: body,
        MessageAttributes: attributes,
        Attributes: {
          ApproximateReceiveCount: String(count),
          ApproximateFirstReceiveTimestamp: String(firstReceive),
        },
      }).attempt;
    // held once, then delivered: attempt 1, its retry 2
    expect(received(2, now + 1_000)).toBe(1);
    expect(received(3, now + 1_000)).toBe(2);
    // first received after its time (no consumer ran meanwhile): every receive counts
    expect(received(1, now + 61_000)).toBe(1);
    expect(received(2, now + 61_000)).toBe(2);
  });
});
