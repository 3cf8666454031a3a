import type { Carrier, ConsumerLag } from '@carrier/core';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { expect } from 'vitest';
import type { ContractCase } from '../case.js';
import { expectCode } from '../expect-code.js';
import { freshName, gate, sleep } from '../support.js';

const theme = 'consumer lag';

/**
 * Read `carrier.lag(topic, group)` every 100 ms until `holds` accepts it; fail after `timeoutMs`
 * naming `what` and the last reading (a broker's approximate counters, SQS's, settle after a while).
 */
async function lagUntil(
  c: Carrier,
  topic: string,
  group: string,
  holds: (lag: ConsumerLag) => boolean,
  timeoutMs: number,
  what: string,
): Promise<ConsumerLag> {
  const deadline = Date.now() + timeoutMs;
  let last: ConsumerLag | undefined;
  for (;;) {
    last = await c.lag(topic, group, { signal: AbortSignal.timeout(timeoutMs) });
    if (holds(last)) return last;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last lag ${JSON.stringify(last)}`,
      );
    await sleep(100);
  }
}

export const lagCounts: ContractCase = {
  name: 'lag counts the messages a group has not consumed, and reaches 0 once they are settled',
  theme,
  needs: ['lag'],
  timeouts: 5,
  async run({ carrier, until, timeoutMs }) {
    const c = await carrier();
    const topic = freshName('lag');
    await c.declare(topic, ['g']);
    const empty = await lagUntil(c, topic, 'g', (l) => l.messages === 0, timeoutMs, 'a new group to lag 0');
    expect(typeof empty.source, 'lag names its source').toBe('string');
    expect(empty.source.length).toBeGreaterThan(0);
    const n = 7;
    await c.publishBatch(
      topic,
      Array.from({ length: n }, (_, i) => ({ body: { i } })),
    );
    // exactly n once the broker's counters caught up (never more: nothing else was published)
    await lagUntil(c, topic, 'g', (l) => l.messages === n, timeoutMs, `the group to lag ${n}`);
    const seen = new Set<number>();
    await c.subscribe<{ i: number }>(topic, { group: 'g' }, (m) => {
      seen.add(m.body.i);
    });
    await until(() => seen.size === n, `the group to consume the ${n} messages`);
    await lagUntil(c, topic, 'g', (l) => l.messages === 0, timeoutMs, 'the lag to return to 0');
  },
};

/** A metric reader collected by hand. */
class ManualReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** The value of `carrier.consumer.lag` for `topic`/`group` in one collection, or undefined. */
async function gaugeValue(reader: ManualReader, topic: string, group: string): Promise<number | undefined> {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics
    .flatMap((s) => s.metrics)
    .find((m) => m.descriptor.name === 'carrier.consumer.lag');
  const point = metric?.dataPoints.find(
    (p) =>
      p.attributes['messaging.destination.name'] === topic &&
      p.attributes['messaging.consumer.group.name'] === group,
  );
  if (point)
    expect(point.attributes['messaging.system'] ?? point.attributes['messaging.system.name']).toBeTruthy();
  return point?.value as number | undefined;
}

export const lagGauge: ContractCase = {
  name: 'the carrier.consumer.lag gauge reports the lag of a group the carrier consumes, down to 0',
  theme,
  needs: ['lag'],
  timeouts: 5,
  async run({ carrier, until, timeoutMs }) {
    const reader = new ManualReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    try {
      const c = await carrier({ telemetry: { meterProvider } });
      const topic = freshName('lag-gauge');
      await c.declare(topic, ['g']);
      expect(
        await gaugeValue(reader, topic, 'g'),
        'no point before the carrier consumes the group',
      ).toBeUndefined();
      const n = 5;
      await c.publishBatch(
        topic,
        Array.from({ length: n }, (_, i) => ({ body: i })),
      );
      const held = gate();
      let handled = 0;
      await c.subscribe(topic, { group: 'g', concurrency: 1 }, async () => {
        await held.promise;
        handled++;
      });
      const first = await gaugeValue(reader, topic, 'g');
      expect(first, 'a point for the consumed group').toBeGreaterThanOrEqual(0);
      expect(first).toBeLessThanOrEqual(n);
      held.open();
      await until(() => handled === n, `the group to handle the ${n} messages`);
      const deadline = Date.now() + timeoutMs;
      let last = await gaugeValue(reader, topic, 'g');
      while (last !== 0) {
        if (Date.now() > deadline) throw new Error(`the gauge never reported 0 (last ${last})`);
        await sleep(200);
        last = await gaugeValue(reader, topic, 'g');
      }
    } finally {
      await meterProvider.shutdown();
    }
  },
};

export const lagRefusals: ContractCase = {
  name: 'lag of a group that does not exist is INVALID_ARGUMENT; bad names and a fired signal are refused',
  theme,
  needs: ['lag'],
  async run({ carrier }) {
    const c = await carrier();
    await expectCode(c.lag(freshName('lag-none'), 'g'), 'INVALID_ARGUMENT');
    await expectCode(c.lag('bad topic', 'g'), 'INVALID_NAME');
    await expectCode(c.lag(freshName('lag'), 'bad group'), 'INVALID_NAME');
    await expectCode(c.lag(freshName('lag'), 'g', { signal: AbortSignal.abort() }), 'ABORTED');
  },
};

export const lagUnsupported: ContractCase = {
  name: 'lag is refused with UNSUPPORTED where the transport cannot tell it',
  theme,
  async run({ carrier, skip }) {
    const c = await carrier();
    skip(c.capabilities.lag === true, 'the transport tells lag (capabilities.lag)');
    await expectCode(c.lag(freshName('lag'), 'g'), 'UNSUPPORTED');
  },
};
