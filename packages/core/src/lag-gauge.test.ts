import { randomBytes } from 'node:crypto';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { connect } from './connect.js';
import { CONSUMER_LAG_METRIC, observeConsumerLag } from './lag-gauge.js';
import { createMemoryTransport } from './memory/memory-transport.js';
import type { WireMessage } from './transport.js';

class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const message = (id: string): WireMessage => ({
  id,
  headers: {},
  contentType: 'text/plain',
  body: new TextEncoder().encode(id),
  publishedAt: new Date(),
});

/** The data points of the lag gauge in one collection, as [value, attributes]. */
async function lagPoints(reader: TestReader) {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics
    .flatMap((s) => s.metrics)
    .find((m) => m.descriptor.name === CONSUMER_LAG_METRIC);
  return (metric?.dataPoints ?? []).map((p) => [p.value, p.attributes] as const);
}

describe('carrier.consumer.lag gauge', () => {
  it('observes each live (topic, group) once with the semconv attributes, and stops when unregistered', async () => {
    const transport = await createMemoryTransport(new URL(`memory://${randomBytes(4).toString('hex')}`), {
      onError: () => {},
    });
    await transport.declare('orders', ['billing', 'audit']);
    await transport.publish('orders', [message('a'), message('b')]);
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const targets = [
      { topic: 'orders', group: 'billing' },
      { topic: 'orders', group: 'billing' },
      { topic: 'orders', group: 'audit' },
      { topic: 'missing', group: 'x' }, // a failed reading is left out
    ];
    const stop = observeConsumerLag(
      provider.getMeter('@carrier/core'),
      transport,
      (topic, group) => ({
        'messaging.system': 'carrier_memory',
        'messaging.destination.name': topic,
        'messaging.consumer.group.name': group,
      }),
      () => targets,
    );
    const points = await lagPoints(reader);
    expect(points).toHaveLength(2);
    expect(points).toContainEqual([
      2,
      {
        'messaging.system': 'carrier_memory',
        'messaging.destination.name': 'orders',
        'messaging.consumer.group.name': 'billing',
      },
    ]);
    expect(points.map(([, a]) => a['messaging.consumer.group.name']).sort()).toEqual(['audit', 'billing']);
    await transport.publish('orders', [message('c')]);
    expect((await lagPoints(reader)).map(([v]) => v)).toEqual([3, 3]);
    stop();
    await transport.publish('orders', [message('d')]);
    // no reading after unregistering (the SDK may still export the last value it had)
    expect((await lagPoints(reader)).map(([v]) => v)).not.toContain(4);
    await provider.shutdown();
    await transport.close();
  });

  it('a carrier connected with a meter provider reports the lag of the groups it consumes, until closed', async () => {
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const broker = `memory://${randomBytes(4).toString('hex')}`;
    const carrier = await connect(broker, { telemetry: { meterProvider } });
    const publisher = await connect(broker, { telemetry: false });
    await carrier.declare('orders', ['billing', 'idle']);
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = 0;
    await carrier.subscribe('orders', { group: 'billing', concurrency: 1 }, async () => {
      started++;
      await held;
    });
    await publisher.publishBatch('orders', [{ body: 1 }, { body: 2 }, { body: 3 }]);
    while (started === 0) await new Promise((resolve) => setImmediate(resolve));
    const points = await lagPoints(reader);
    // only the consumed group (not `idle`, declared but not subscribed here)
    expect(points).toEqual([
      [
        3,
        expect.objectContaining({
          'messaging.destination.name': 'orders',
          'messaging.consumer.group.name': 'billing',
        }),
      ],
    ]);
    expect(points[0]?.[1]['messaging.system'] ?? points[0]?.[1]['messaging.system.name']).toBeTruthy();
    release();
    while (started < 3) await new Promise((resolve) => setImmediate(resolve));
    await carrier.close(); // settles the third
    await publisher.publishBatch('orders', [{ body: 4 }, { body: 5 }]);
    // closed: no reading of the 2 now waiting (the SDK may still export the last value, 3)
    expect((await lagPoints(reader)).map(([v]) => v)).not.toContain(2);
    await publisher.close();
    await meterProvider.shutdown();
  });
});
