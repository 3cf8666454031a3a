import { topicSubject } from '@carrier/adapter-nats';
import { freshName } from '@carrier/contract';
import { type Carrier, connect } from '@carrier/core';
import { jetstream } from '@nats-io/jetstream';
import {
  createInbox,
  type NatsConnection,
  connect as natsConnect,
  headers as natsHeaders,
} from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { natsServers } from '../src/urls.js';

// Request/reply between Carrier and plain nats.js clients (docs/brokers/nats.md, "Request/reply"):
// a request carries `carrier-meta-reply-to: <inbox>.<correlation id>`; a reply is a core NATS
// publish to that subject. JetStream keeps no reply subject, so the convention is the header.

const url = () => inject('brokers').nats;
const utf8 = new TextEncoder();

describe('nats request/reply with native clients', () => {
  let carrier: Carrier;
  let nc: NatsConnection;

  beforeAll(async () => {
    carrier = await connect(url());
    nc = await natsConnect({ servers: natsServers(url()) });
  });

  afterAll(async () => {
    await carrier?.close();
    await nc?.close();
  });

  it('a native responder answers a Carrier request by publishing to its reply-to subject', async () => {
    const topic = freshName('nats-rr-native-server');
    const sub = nc.subscribe(topicSubject(topic), {
      callback: (_error, msg) => {
        const replyTo = msg.headers?.get('carrier-meta-reply-to');
        if (!replyTo) return;
        const h = natsHeaders();
        h.set('Content-Type', 'text/plain; charset=utf-8');
        // no correlation header: the subject's last token is the correlation id
        nc.publish(replyTo, utf8.encode(`priced ${msg.string()}`), { headers: h });
      },
    });
    await nc.flush();
    try {
      const reply = await carrier.request(topic, 'sku-9', { timeoutMs: 10_000 });
      expect(reply.body).toBe('priced sku-9');
    } finally {
      sub.unsubscribe();
    }
  });

  it('a Carrier handler answers a native requester that follows the convention (JetStream publish with carrier-meta-reply-to)', async () => {
    const topic = freshName('nats-rr-native-client');
    await carrier.subscribe(topic, { group: 'pricing' }, async (m) => {
      await m.reply({ price: 42, for: m.body }, { headers: { currency: 'EUR' } });
    });
    const inbox = createInbox();
    const replies = nc.subscribe(inbox, { max: 1 });
    await nc.flush();
    const h = natsHeaders();
    h.set('carrier-meta-reply-to', inbox);
    h.set('carrier-meta-correlation-id', 'native-1');
    h.set('Content-Type', 'application/json');
    await jetstream(nc).publish(topicSubject(topic), utf8.encode('"sku-1"'), { headers: h });
    const got = await Promise.race([
      (async () => {
        for await (const msg of replies) return msg;
        return undefined;
      })(),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 10_000)),
    ]);
    expect(got, 'a reply within 10 s').toBeDefined();
    expect(got!.headers?.get('carrier-meta-correlation-id')).toBe('native-1');
    expect(got!.headers?.get('currency')).toBe('EUR');
    expect(got!.headers?.get('Carrier-Content-Type')).toBe('application/json');
    expect(got!.json()).toEqual({ price: 42, for: 'sku-1' });
  });

  it('a plain `nats req` to a topic subject gets the JetStream PubAck, not a handler reply (documented limit)', async () => {
    const topic = freshName('nats-rr-plain-req');
    await carrier.declare(topic, ['pricing']);
    const answer = await nc.request(topicSubject(topic), utf8.encode('"sku-2"'), { timeout: 10_000 });
    expect(answer.json<{ stream?: string }>().stream, 'the stream acknowledged the request').toBeTruthy();
  });
});
