import { randomBytes } from 'node:crypto';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
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
      'carrier_memory',
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
});
