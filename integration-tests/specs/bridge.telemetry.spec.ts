import { randomBytes } from 'node:crypto';
import { type Bridge, bridge } from '@carrier/bridge';
import { type Carrier, connect, type Message } from '@carrier/core';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';

// A bridged message continues its source's trace: the SDK wired globally as an application does
// (provider, async context manager, W3C propagator; this spec file's own process), a publisher on
// Kafka, the bridge library moving Kafka → RabbitMQ, a consumer on RabbitMQ.

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
trace.setGlobalTracerProvider(provider);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

const fresh = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const open: Carrier[] = [];
const bridges: Bridge[] = [];

async function carrier(url: string): Promise<Carrier> {
  const c = await connect(url);
  open.push(c);
  return c;
}

async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function describeSpans(list: readonly ReadableSpan[]): string {
  return list
    .map((s) => {
      const c = s.spanContext();
      const links = s.links.map((l) => l.context.spanId).join(',');
      return `${s.name} kind=${s.kind} ${c.traceId}/${c.spanId} parent=${s.parentSpanContext?.spanId ?? '-'} links=${links}`;
    })
    .join('\n');
}

afterEach(async () => {
  await Promise.allSettled(bridges.splice(0).map((b) => b.stop()));
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await provider.shutdown();
});

describe('bridge: a bridged message continues its trace', () => {
  it('Kafka → RabbitMQ: publish, bridge and consume spans share one trace', async () => {
    const { kafka, rabbitmq } = inject('brokers');
    const topic = fresh('otel-bridge');
    const out = fresh('otel-bridge-out');
    const target = await carrier(rabbitmq);
    const got: Message[] = [];
    await target.subscribe(out, { group: 'app' }, (m) => {
      got.push(m);
    });
    bridges.push(
      await bridge({
        from: kafka,
        to: rabbitmq,
        topics: [`${topic}:${out}`],
        group: fresh('bridge'),
        progressIntervalMs: 0,
      }),
    );
    const source = await carrier(kafka);
    const { id } = await source.publish(topic, { order: 1 }, { key: 'k' });
    await until(() => got.some((m) => m.id === id), 'the copy on RabbitMQ');
    const named = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);
    await until(
      () => named(`process ${out}`).length >= 1 && named(`send ${out}`).length >= 1,
      'the target-side spans',
      20_000,
    );
    const all = exporter.getFinishedSpans();
    const trail = describeSpans(all);

    const sends = named(`send ${topic}`);
    expect(sends, trail).toHaveLength(1);
    const origin = sends[0]!.spanContext();
    expect(sends[0]!.kind).toBe(SpanKind.PRODUCER);

    // the bridge's group on Kafka processes the message in the publisher's trace
    const bridged = named(`process ${topic}`);
    expect(bridged, trail).toHaveLength(1);
    expect(bridged[0]!.spanContext().traceId, trail).toBe(origin.traceId);
    expect(bridged[0]!.parentSpanContext?.spanId, trail).toBe(origin.spanId);

    // its copy to RabbitMQ: a send span in the same trace, under the bridge's process span
    const copies = named(`send ${out}`);
    expect(copies.length, trail).toBeGreaterThanOrEqual(1);
    for (const s of copies) expect(s.spanContext().traceId, trail).toBe(origin.traceId);

    // the consumer on RabbitMQ: the same trace again (the copy kept the source's traceparent)
    const consumed = named(`process ${out}`);
    expect(consumed, trail).toHaveLength(1);
    expect(consumed[0]!.spanContext().traceId, trail).toBe(origin.traceId);
    expect(got.find((m) => m.id === id)!.metadata.traceparent, 'the forwarded traceparent').toContain(
      origin.traceId,
    );

    // Kafka's receive span covers a fetched batch, not one message: it starts its own trace, and
    // the bridge's process span links to it (semantic conventions, batch receiving)
    const receives = named(`receive ${topic}`);
    expect(receives.length, trail).toBeGreaterThanOrEqual(1);
    const receiveIds = receives.map((s) => s.spanContext().spanId);
    expect(
      bridged[0]!.links.some((l) => receiveIds.includes(l.context.spanId)),
      trail,
    ).toBe(true);

    // nothing else about this message left the trace
    const ours = all.filter(
      (s) =>
        [topic, out].includes(String(s.attributes['messaging.destination.name'])) &&
        s.attributes['messaging.operation.type'] !== 'receive',
    );
    expect(new Set(ours.map((s) => s.spanContext().traceId)), trail).toEqual(new Set([origin.traceId]));
  });
});
