import { createTransport } from '@carrier/adapter-kafka';
import { waitFor } from '@carrier/contract';
import { CarrierError, type Transport, type WireMessage } from '@carrier/core';
import kafkajs from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import '../src/context.js';

// What request/reply leaves on Kafka (docs/brokers/kafka.md, "Request/reply"): the shared reply
// topic with its short retention, one consumer group per requester connection that close()
// deletes, a reply to a requester that is gone is dropped by nobody reading it, and the time the
// reply consumer's first group join takes (printed: the cost of a connection's first request).

const { ConfigResourceTypes } = kafkajs;

function wire(text: string, correlationId: string): WireMessage {
  return {
    id: crypto.randomUUID(),
    headers: { h: '1' },
    contentType: 'text/plain; charset=utf-8',
    body: new TextEncoder().encode(text),
    publishedAt: new Date(),
    metadata: { correlationId },
  };
}

describe('kafka replies', { timeout: 120_000 }, () => {
  const open: Transport[] = [];
  const errors: Error[] = [];
  afterAll(async () => {
    await Promise.allSettled(open.map((t) => t.close()));
  });
  async function transport(): Promise<Transport> {
    const t = await createTransport(new URL(inject('brokers').kafka), { onError: (e) => errors.push(e) });
    open.push(t);
    return t;
  }
  // an admin client of the test's own, to look at what Carrier left on the broker
  const kafka = new kafkajs.Kafka({
    brokers: [new URL(inject('brokers').kafka).host],
    logLevel: kafkajs.logLevel.NOTHING,
  });
  const admin = kafka.admin();
  afterAll(() => admin.disconnect());

  it('a reply reaches only its requester; close deletes the reply group; a late reply is dropped', async () => {
    await admin.connect();
    const requester = await transport();
    const other = await transport();
    const server = await transport();
    const got: WireMessage[] = [];
    const foreign: WireMessage[] = [];
    const t0 = performance.now();
    const replies = await requester.openReplies!((m) => got.push(m));
    const firstOpenMs = Math.round(performance.now() - t0);
    const t1 = performance.now();
    const otherReplies = await other.openReplies!((m) => foreign.push(m));
    const secondOpenMs = Math.round(performance.now() - t1);
    console.log(`kafka openReplies: ${firstOpenMs} ms, then ${secondOpenMs} ms on another connection`);
    expect(replies.address).toMatch(/^carrier\.\.replies:[0-9a-f-]{36}$/);
    expect(otherReplies.address).not.toBe(replies.address);

    await server.reply!(replies.address, wire('pong', 'c-1'));
    await waitFor(() => got.length === 1, 30_000, 'the reply');
    expect(new TextDecoder().decode(got[0]!.body)).toBe('pong');
    expect(got[0]!.metadata?.correlationId).toBe('c-1');
    expect(got[0]!.headers).toEqual({ h: '1' });
    expect(got[0]!.key).toBeUndefined();

    // not a Carrier reply address: refused, nothing written to another topic
    const refused = await server.reply!('orders', wire('x', 'c-2')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CarrierError);
    expect((refused as CarrierError).code).toBe('INVALID_ARGUMENT');

    // the reply topic keeps replies briefly: nothing piles up for requesters that are gone
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: 'carrier..replies',
          configNames: ['retention.ms', 'segment.ms'],
        },
      ],
    });
    const config = Object.fromEntries(resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
    expect(config).toEqual({ 'retention.ms': '300000', 'segment.ms': '300000' });

    const groupId = `carrier..replies..${replies.address.split(':')[1]}`;
    const before = await admin.describeGroups([groupId]);
    expect(before.groups[0]!.state).toBe('Stable');
    await replies.close();
    const after = await admin.describeGroups([groupId]);
    expect(after.groups[0]!.state).toBe('Dead'); // deleted
    // a reply to the requester that is gone: accepted, read by nobody
    await server.reply!(replies.address, wire('late', 'c-3'));
    await otherReplies.close();
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
  });
});
