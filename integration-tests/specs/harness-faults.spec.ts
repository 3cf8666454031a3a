import { randomUUID } from 'node:crypto';
import { CreateQueueCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import amqp from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { broker, privateBroker } from '../src/faults.js';
import { readState } from '../src/harness.js';
import type { BrokerName } from '../src/types.js';
import { awsCredentials, kafkaBrokers, natsServers, sqsEndpoint } from '../src/urls.js';

// The fault hooks themselves: a broker killed with SIGKILL (or stopped) comes back on the same URL
// with its data. These tests kill private brokers (privateBroker), never the shared ones that other
// spec files are using at the same time.

const urls = inject('brokers');
const state = readState(inject('brokersState'));
const provider = (name: BrokerName) => state?.brokers[name]?.provider;
const fresh = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

describe('fault hooks', () => {
  it('broker() controls the shared local brokers and refuses other providers with a clear error', () => {
    for (const name of ['kafka', 'rabbitmq', 'nats', 'sqs'] as const) {
      if (provider(name) === 'local-process') {
        expect(broker(name).url).toBe(urls[name]);
        expect(broker(name).isRunning()).toBe(true);
      } else {
        expect(() => broker(name)).toThrow(/only work with the local-process provider/);
      }
    }
  });

  it('nats: a stream survives kill -9 and start', async () => {
    const nats = await privateBroker('nats');
    try {
      const stream = fresh('FAULT').replace(/-/g, '_');
      let nc = await natsConnect({ servers: natsServers(nats.url) });
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
      await jetstream(nc).publish(`${stream}.a`, 'kept');
      await nc.close();

      await nats.kill9();
      expect(nats.isRunning()).toBe(false);
      await nats.start();
      expect(nats.isRunning()).toBe(true);

      nc = await natsConnect({ servers: natsServers(nats.url) });
      try {
        const jsm2 = await jetstreamManager(nc);
        await jsm2.consumers.add(stream, { durable_name: 'after', ack_policy: AckPolicy.Explicit });
        const msg = await (await jetstream(nc).consumers.get(stream, 'after')).next({ expires: 5000 });
        expect(msg?.string()).toBe('kept');
        msg?.ack();
      } finally {
        await nc.close();
      }
    } finally {
      await nats.dispose();
    }
  });

  it('rabbitmq: a persistent message in a quorum queue survives restart', async () => {
    const rabbit = await privateBroker('rabbitmq');
    try {
      const queue = fresh('fault');
      let conn = await amqp.connect(rabbit.url);
      const ch = await conn.createConfirmChannel();
      await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      ch.sendToQueue(queue, Buffer.from('kept'), { persistent: true });
      await ch.waitForConfirms();
      await conn.close();

      await rabbit.restart();

      conn = await amqp.connect(rabbit.url);
      try {
        const ch2 = await conn.createChannel();
        // a quorum queue elects its leader again after the node restarts: poll until the message is there
        const deadline = Date.now() + 30_000;
        let msg = await ch2.get(queue, { noAck: true }).catch(() => false as const);
        while (!msg && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 200));
          msg = await ch2.get(queue, { noAck: true });
        }
        expect(msg ? msg.content.toString() : undefined).toBe('kept');
      } finally {
        await conn.close();
      }
    } finally {
      await rabbit.dispose();
    }
  });

  it('kafka: a committed record survives kill -9 and start', async () => {
    const k = await privateBroker('kafka');
    try {
      const kafka = new Kafka({
        clientId: 'carrier-fault',
        brokers: kafkaBrokers(k.url),
        logLevel: logLevel.NOTHING,
      });
      const topic = fresh('fault');
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ value: 'kept' }] });
      await producer.disconnect();
      await admin.disconnect();

      await k.kill9();
      await k.start();

      const admin2 = kafka.admin();
      await admin2.connect();
      try {
        // the partition's leader is back once its offsets can be read
        const deadline = Date.now() + 60_000;
        let high = '0';
        while (Date.now() < deadline) {
          try {
            high = (await admin2.fetchTopicOffsets(topic))[0]?.high ?? '0';
            if (high === '1') break;
          } catch {
            // leader not elected yet
          }
          await new Promise((r) => setTimeout(r, 200));
        }
        expect(high).toBe('1');
      } finally {
        await admin2.disconnect();
      }
    } finally {
      await k.dispose();
    }
  });

  it('sqs: the emulator answers on the same URL after kill -9 and start (it keeps no state)', async () => {
    const emulator = await privateBroker('sqs');
    const { endpoint, region } = sqsEndpoint(emulator.url);
    const sqs = new SQSClient({ endpoint, region, credentials: awsCredentials() });
    try {
      await sqs.send(new CreateQueueCommand({ QueueName: fresh('fault') }));
      await emulator.kill9();
      expect(emulator.isRunning()).toBe(false);
      await emulator.start();
      const r = await sqs.send(new ListQueuesCommand({}));
      expect(r.$metadata.httpStatusCode).toBe(200);
      expect(r.QueueUrls ?? []).toEqual([]); // moto keeps queues in memory only
    } finally {
      sqs.destroy();
      await emulator.dispose();
    }
  });
});
