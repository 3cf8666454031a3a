import { CarrierError, type WireMessage } from '@carrier/core';
import type { JetStreamClient, JetStreamPublishOptions } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { wrapper } from './errors.js';
import type { Link } from './link.js';
import { Producer } from './producer.js';
import type { Topology } from './topology.js';

function message(id: string, bytes = 3): WireMessage {
  return {
    id,
    headers: {},
    contentType: 'application/octet-stream',
    body: new Uint8Array(bytes),
    publishedAt: new Date('2026-01-01T00:00:00Z'),
  };
}

interface Sent {
  readonly subject: string;
  readonly options: Partial<JetStreamPublishOptions> | undefined;
}

/** A producer over a fake JetStream client that refuses the ids in `refuse`. */
function setup(options: { refuse?: string[]; streamFails?: boolean; maxPayload?: number } = {}) {
  const sent: Sent[] = [];
  const rechecked: string[] = [];
  const js = {
    publish: async (subject: string, _body: Uint8Array, opts?: Partial<JetStreamPublishOptions>) => {
      if (options.refuse?.includes(opts?.msgID ?? '')) throw new Error('no response from stream');
      sent.push({ subject, options: opts });
      return { stream: 'CARRIER_t', seq: sent.length, duplicate: false };
    },
  } as unknown as JetStreamClient;
  const topology = {
    topicStream: async () => {
      if (options.streamFails) throw new Error('503 no responders');
    },
    recheckTopic: (topic: string) => rechecked.push(topic),
  } as unknown as Topology;
  const link = {
    js,
    settings: { requestTimeoutMs: 500 },
    maxPayload: options.maxPayload ?? 1_000,
    wrap: wrapper(() => false),
  } as unknown as Link;
  const producer = new Producer(link, topology);
  return { producer, sent, rechecked };
}

async function rejection(p: Promise<unknown>): Promise<CarrierError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CarrierError);
  return error as CarrierError;
}

describe('Producer', () => {
  it('publishes each message to carrier.<topic>, expecting the topic stream, Nats-Msg-Id = id', async () => {
    const { producer, sent } = setup();
    await producer.publish('t', [message('a'), message('b')]);
    expect(sent.map((s) => s.subject)).toEqual(['carrier.t', 'carrier.t']);
    expect(sent.map((s) => s.options?.msgID)).toEqual(['a', 'b']);
    expect(sent[0]!.options?.expect).toEqual({ streamName: 'CARRIER_t' });
    expect(sent[0]!.options?.timeout).toBe(500);
    expect(sent[0]!.options?.headers?.get('Carrier-Id')).toBe('a');
  });

  it('PUBLISH_FAILED names exactly the unconfirmed messages, in order; the topic is checked again', async () => {
    const { producer, sent, rechecked } = setup({ refuse: ['c', 'a'] });
    const error = await rejection(
      producer.publish(
        't',
        ['a', 'b', 'c', 'd'].map((id) => message(id)),
      ),
    );
    expect(error.code).toBe('PUBLISH_FAILED');
    expect(error.transport).toBe('nats');
    expect(error.failures?.map((f) => [f.index, f.id])).toEqual([
      [0, 'a'],
      [2, 'c'],
    ]);
    expect(error.failures?.[0]?.error).toMatchObject({ code: 'CONNECTION' });
    expect(sent.map((s) => s.options?.msgID).sort()).toEqual(['b', 'd']);
    expect(rechecked).toEqual(['t']);
  });

  it('a stream that cannot be ensured fails every message, nothing is sent', async () => {
    const { producer, sent } = setup({ streamFails: true });
    const error = await rejection(producer.publish('t', [message('a'), message('b')]));
    expect(error.code).toBe('PUBLISH_FAILED');
    expect(error.failures?.map((f) => f.id)).toEqual(['a', 'b']);
    expect(error.message).toContain('503 no responders');
    expect(sent).toEqual([]);
  });

  it('MESSAGE_TOO_LARGE (headers counted) before anything is sent', async () => {
    const { producer, sent } = setup({ maxPayload: 300 });
    const error = await rejection(producer.publish('t', [message('a'), message('b', 290)]));
    expect(error.code).toBe('MESSAGE_TOO_LARGE');
    expect(sent).toEqual([]);
  });

  it('an id a header line cannot hold goes percent-encoded into Nats-Msg-Id', async () => {
    const { producer, sent } = setup();
    await producer.publish('t', [message(' a\nb ')]);
    expect(sent[0]!.options?.msgID).toBe(encodeURIComponent(' a\nb '));
  });
});
