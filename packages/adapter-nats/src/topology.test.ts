import { CarrierError } from '@carrier/core';
import { JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { API, wrapper } from './errors.js';
import type { Link } from './link.js';
import { Topology } from './topology.js';
import { parseNatsUrl } from './url.js';

function apiError(code: number, description: string): JetStreamApiError {
  return new JetStreamApiError({ code: 400, err_code: code, description });
}

interface Options {
  /** Subjects of streams that exist already, by name. */
  readonly existing?: Record<string, string[]>;
  /** Stream adds that fail, in order, before they succeed. */
  readonly addFailures?: unknown[];
  /** Query of the transport URL (default `ackWaitMs=3000`). */
  readonly query?: string;
}

/** A fake JetStream manager recording what is created. */
function setup(options: Options = {}) {
  const streams = new Map<string, string[]>(Object.entries(options.existing ?? {}));
  const retentions = new Map<string, string>();
  const consumers = new Map<string, Record<string, unknown>>();
  const addFailures = [...(options.addFailures ?? [])];
  const calls = { streamAdds: 0, consumerAdds: 0 };
  const jsm = {
    streams: {
      info: async (name: string) => {
        await Promise.resolve();
        const subjects = streams.get(name);
        if (!subjects) throw apiError(API.streamNotFound, 'stream not found');
        return { config: { name, subjects, retention: retentions.get(name) ?? 'interest' } };
      },
      add: async (config: { name: string; subjects: string[]; retention: string }) => {
        calls.streamAdds++;
        await Promise.resolve();
        const failure = addFailures.shift();
        if (failure) throw failure;
        streams.set(config.name, config.subjects);
        retentions.set(config.name, config.retention);
        return { config };
      },
    },
    consumers: {
      info: async (stream: string, name: string) => {
        const config = consumers.get(`${stream}/${name}`);
        if (!config) throw apiError(API.consumerNotFound, 'consumer not found');
        return { config };
      },
      add: async (stream: string, config: Record<string, unknown>) => {
        calls.consumerAdds++;
        consumers.set(`${stream}/${config.durable_name as string}`, config);
        return { config };
      },
    },
  } as unknown as JetStreamManager;
  const link = {
    jsm,
    settings: parseNatsUrl(new URL(`nats://localhost?${options.query ?? 'ackWaitMs=3000'}`)),
    wrap: wrapper(() => false),
  } as unknown as Link;
  return { topology: new Topology(link), streams, consumers, calls };
}

async function rejection(p: Promise<unknown>): Promise<CarrierError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CarrierError);
  return error as CarrierError;
}

describe('Topology', () => {
  it('declare: topic stream, dead-letter stream, a consumer and a dead-letter consumer per group', async () => {
    const { topology, streams, consumers } = setup();
    await topology.declare('orders.eu', ['billing']);
    expect(streams).toEqual(
      new Map([
        ['CARRIER_orders_Deu', ['carrier.orders.eu', 'carrier-redrive.orders_Deu.*']],
        ['CARRIER-DLQ_orders_Deu', ['carrier-dlq.orders_Deu.*']],
      ]),
    );
    expect(consumers.get('CARRIER_orders_Deu/billing')).toMatchObject({
      ack_wait: 3_000_000_000,
      max_deliver: -1,
      deliver_policy: 'new',
      filter_subjects: ['carrier.orders.eu', 'carrier-redrive.orders_Deu.billing'],
    });
    expect(consumers.get('CARRIER-DLQ_orders_Deu/billing')).toMatchObject({
      deliver_policy: 'all',
      filter_subject: 'carrier-dlq.orders_Deu.billing',
    });
  });

  it('creates each object once, even for concurrent calls', async () => {
    const { topology, calls } = setup();
    await Promise.all([
      topology.declare('t', ['g']),
      topology.declare('t', ['g']),
      topology.topicStream('t'),
    ]);
    await topology.declare('t', ['g']);
    expect(calls).toEqual({ streamAdds: 2, consumerAdds: 2 });
  });

  it('forgets a failed creation: the next call tries again', async () => {
    const { topology, calls } = setup({ addFailures: [new Error('no responders')] });
    const error = await rejection(topology.topicStream('t'));
    expect(error.code).toBe('CONNECTION');
    await topology.topicStream('t');
    expect(calls.streamAdds).toBe(2);
  });

  it('recheckTopic: the next use looks at the stream again', async () => {
    const { topology, streams, calls } = setup();
    await topology.topicStream('t');
    streams.delete('CARRIER_t');
    topology.recheckTopic('t');
    await topology.topicStream('t');
    expect(calls.streamAdds).toBe(2);
  });

  it("an existing stream without Carrier's subjects is a TOPOLOGY_CONFLICT", async () => {
    const { topology } = setup({ existing: { CARRIER_t: ['carrier.t'] } });
    const error = await rejection(topology.topicStream('t'));
    expect(error.code).toBe('TOPOLOGY_CONFLICT');
    expect(error.message).toContain('carrier-redrive.t.*');
  });

  it('a stream the server refuses (overlapping subjects) is a TOPOLOGY_CONFLICT', async () => {
    const { topology } = setup({
      addFailures: [apiError(10065, 'subjects overlap with an existing stream')],
    });
    expect((await rejection(topology.topicStream('t'))).code).toBe('TOPOLOGY_CONFLICT');
  });

  it("startFrom 'earliest' creates the group's consumer with deliver_policy all; another start conflicts", async () => {
    const { topology, consumers } = setup({ query: 'retention=limits' });
    await topology.declare('t', ['replayed'], 'earliest');
    await topology.declare('t', ['fresh']);
    expect(consumers.get('CARRIER_t/replayed')).toMatchObject({ deliver_policy: 'all' });
    expect(consumers.get('CARRIER_t/fresh')).toMatchObject({ deliver_policy: 'new' });
    expect((await rejection(topology.declare('t', ['replayed'], 'now'))).code).toBe('TOPOLOGY_CONFLICT');
    expect((await rejection(topology.declare('t', ['fresh'], 'earliest'))).code).toBe('TOPOLOGY_CONFLICT');
    // no start asked: either is accepted
    await topology.declare('t', ['replayed', 'fresh']);
    await topology.declare('t', ['replayed'], 'earliest');
  });

  it("startFrom 'earliest' on a stream with interest retention is UNSUPPORTED (it keeps no history for a new group)", async () => {
    const interest = setup();
    await interest.topology.declare('t', ['a']);
    expect((await rejection(interest.topology.declare('t', ['late'], 'earliest'))).code).toBe('UNSUPPORTED');
    expect(interest.consumers.has('CARRIER_t/late')).toBe(false);
  });
});
