import { deadLetterStream, topicStream } from '@carrier/adapter-nats';
import { freshName } from '@carrier/contract';
import { type Carrier, CarrierError, connect } from '@carrier/core';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { natsConnectOptions } from '../src/urls.js';

// ?replicas= (docs/brokers/nats.md, "Clusters"): the num_replicas of every stream Carrier creates.
// The run's NATS is a single server: replicas=1 works, replicas=3 is refused by the server.

const url = () => inject('brokers').nats;

/** `num_replicas` of each stream, as the server has it. */
async function replicasOf(streams: readonly string[]): Promise<number[]> {
  const nc = await natsConnect(natsConnectOptions(url()));
  try {
    const jsm = await jetstreamManager(nc);
    return await Promise.all(streams.map(async (s) => (await jsm.streams.info(s)).config.num_replicas));
  } finally {
    await nc.close();
  }
}

describe('nats ?replicas=', () => {
  const open: Carrier[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
  });

  it('creates the topic stream and the dead-letter stream with replicas=1', { timeout: 30_000 }, async () => {
    const c = await connect(`${url()}?replicas=1`);
    open.push(c);
    const topic = freshName('rep1');
    await c.declare(topic, ['g']);
    expect(await replicasOf([topicStream(topic), deadLetterStream(topic)])).toEqual([1, 1]);
  });

  it('replicas=3 on a single server: declare fails with TOPOLOGY_CONFLICT saying a cluster of 3 is needed', {
    timeout: 30_000,
  }, async () => {
    const c = await connect(`${url()}?replicas=3`);
    open.push(c);
    const topic = freshName('rep3');
    let error: unknown;
    try {
      await c.declare(topic, ['g']);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('TOPOLOGY_CONFLICT');
    expect((error as CarrierError).message).toContain(`cannot create stream ${topicStream(topic)}`);
    expect((error as CarrierError).message).toContain('replicas > 1 not supported in non-clustered mode');
    expect((error as CarrierError).message).toContain('needs a JetStream cluster of at least 3 servers');
    // publishing fails too, and does not create a one-replica stream instead
    await expect(c.publish(topic, 'x')).rejects.toMatchObject({ code: 'PUBLISH_FAILED' });
    await expect(replicasOf([topicStream(topic)])).rejects.toThrow(/stream not found/);
  });

  it('replicas=6 is refused at connect with INVALID_ARGUMENT', async () => {
    await expect(connect(`${url()}?replicas=6`)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
