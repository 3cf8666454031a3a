import { randomUUID } from 'node:crypto';
import { waitFor } from '@carrier/contract';
import { type Carrier, connect, type Message } from '@carrier/core';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AmqplibInstrumentation } from '@opentelemetry/instrumentation-amqplib';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';

// Carrier's traces against a native client instrumented by OpenTelemetry's own amqplib
// instrumentation (opentelemetry-js-contrib): an application wires the SDK globally (provider,
// context manager, W3C propagator) and registers the instrumentation before amqplib is loaded.
// This file does exactly that, for itself only (vitest runs each spec file in its own process).
// Carrier's RabbitMQ adapter loads the same amqplib, so its channels are instrumented too, as in
// an application that runs both.

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
trace.setGlobalTracerProvider(provider);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
const instrumentation = new AmqplibInstrumentation();
instrumentation.setTracerProvider(provider);
instrumentation.enable();
// amqplib only now, after the instrumentation hooked `require` (a static import would come first)
const { default: amqp } = await import('amqplib');

const url = () => inject('brokers').rabbitmq;
const fresh = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const TIMEOUT = 20_000;
const open: Carrier[] = [];
const natives: { close(): Promise<void> }[] = [];

async function carrier(): Promise<Carrier> {
  const c = await connect(url()); // telemetry: the global providers registered above
  open.push(c);
  return c;
}

const spans = () => exporter.getFinishedSpans();
const fromCarrier = (s: ReadableSpan) => s.instrumentationScope.name === '@carrier/core';
const fromAmqplib = (s: ReadableSpan) => s.instrumentationScope.name.includes('amqplib');
function describeSpans(list: readonly ReadableSpan[]): string {
  return list
    .map((s) => {
      const c = s.spanContext();
      return `${s.instrumentationScope.name}: ${s.name} kind=${s.kind} ${c.traceId}/${c.spanId} parent=${s.parentSpanContext?.spanId ?? '-'}`;
    })
    .join('\n');
}
/** The chain of spans from `span` up through its recorded parents. */
function ancestry(span: ReadableSpan, all: readonly ReadableSpan[]): ReadableSpan[] {
  const chain = [span];
  for (;;) {
    const parentId = chain.at(-1)!.parentSpanContext?.spanId;
    const parent = all.find((s) => s.spanContext().spanId === parentId);
    if (!parent || chain.includes(parent)) return chain;
    chain.push(parent);
  }
}

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
  await Promise.allSettled(natives.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  instrumentation.disable();
  await provider.shutdown();
});

describe('rabbitmq: Carrier traces with the OpenTelemetry amqplib instrumentation', () => {
  it("a native publish instrumented by amqplib's instrumentation: Carrier's process span continues its trace", async () => {
    const c = await carrier();
    const topic = fresh('otel-native-in');
    const got: Message[] = [];
    await c.subscribe(topic, { group: 'g' }, (m) => {
      got.push(m);
    });
    const connection = await amqp.connect(url());
    natives.push(connection);
    const channel = await connection.createConfirmChannel();
    const id = fresh('native');
    // the instrumentation opens a PRODUCER span around publish and injects its context into the headers
    channel.publish(`carrier:${topic}`, 'k', Buffer.from('{"n":1}'), {
      messageId: id,
      contentType: 'application/json',
      persistent: true,
    });
    await channel.waitForConfirms();
    await waitFor(() => got.length >= 1, TIMEOUT, 'the native message on the Carrier group');
    const processed = () => spans().filter((s) => fromCarrier(s) && s.name === `process ${topic}`);
    await waitFor(() => processed().length >= 1, TIMEOUT, "Carrier's process span");
    const all = spans();
    const trail = describeSpans(all);
    const publish = all.filter(
      (s) => fromAmqplib(s) && s.kind === SpanKind.PRODUCER && s.name.includes(`carrier:${topic}`),
    );
    expect(publish, trail).toHaveLength(1);
    const published = publish[0]!.spanContext();
    expect(got[0]!.metadata.traceparent, 'the header the instrumentation wrote').toContain(published.spanId);
    const span = processed()[0]!;
    expect(span.kind).toBe(SpanKind.CONSUMER);
    expect(span.attributes['messaging.message.id']).toBe(id);
    expect(span.spanContext().traceId, trail).toBe(published.traceId);
    expect(span.parentSpanContext?.spanId, trail).toBe(published.spanId);
  });

  it("a Carrier publish read by an instrumented native consumer: its process span is in Carrier's trace", async () => {
    const c = await carrier();
    const topic = fresh('otel-native-out');
    await c.declare(topic, []); // the exchange
    const connection = await amqp.connect(url());
    natives.push(connection);
    const channel = await connection.createChannel();
    const queue = fresh('native-reader');
    await channel.assertQueue(queue, { durable: false, autoDelete: true });
    await channel.bindQueue(queue, `carrier:${topic}`, '#');
    const received: string[] = [];
    await channel.consume(queue, (msg) => {
      if (!msg) return;
      received.push(String(msg.properties.messageId));
      channel.ack(msg); // the instrumentation ends its consume span on ack
    });
    const { id } = await c.publish(topic, { n: 2 });
    await waitFor(() => received.includes(id), TIMEOUT, 'the Carrier message on the native queue');
    const consumed = () =>
      spans().filter((s) => fromAmqplib(s) && s.kind === SpanKind.CONSUMER && s.name === `${queue} process`);
    await waitFor(() => consumed().length >= 1, TIMEOUT, "the instrumentation's consume span");
    const all = spans();
    const trail = describeSpans(all);
    const sends = all.filter((s) => fromCarrier(s) && s.name === `send ${topic}`);
    expect(sends, trail).toHaveLength(1);
    const send = sends[0]!.spanContext();
    const consume = consumed()[0]!;
    expect(consume.spanContext().traceId, trail).toBe(send.traceId);
    // its parent is Carrier's send span, or the instrumentation's publish span under it (Carrier's
    // adapter publishes through the same, instrumented, amqplib)
    expect(
      ancestry(consume, all).map((s) => s.spanContext().spanId),
      trail,
    ).toContain(send.spanId);
  });
});
