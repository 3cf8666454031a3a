import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { Carrier } from '../carrier.js';
import { connect } from '../connect.js';
import { FakeTransport } from '../testing/fake-transport.js';
import { waitFor } from '../testing/wait.js';
import { loadTelemetry } from './load.js';

class ManualReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

const open: Carrier[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

function providers() {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const reader = new ManualReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return { tracerProvider, meterProvider, reader, spans: () => exporter.getFinishedSpans() };
}

/** A carrier over a fake transport with telemetry on. */
async function fake() {
  const transport = new FakeTransport();
  const p = providers();
  const telemetry = await loadTelemetry(p, transport);
  const errors: Error[] = [];
  const carrier = new Carrier(transport, (e) => errors.push(e), telemetry);
  open.push(carrier);
  return { transport, carrier, errors, ...p };
}

const named = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const ids = (s: ReadableSpan) => s.spanContext().spanId;
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('receive spans (fake transport reporting its receive calls)', () => {
  it('a receive of two messages: one receive span (CLIENT, root, batch count 2); both process spans link to it and keep their creation context as parent', async () => {
    const { transport, carrier, spans, reader } = await fake();
    const seen: string[] = [];
    await carrier.subscribe('orders', { group: 'billing' }, (m) => {
      seen.push(m.id);
    });
    const onReceive = transport.subscribeOptions?.onReceive;
    expect(onReceive).toBeTypeOf('function');
    const call = onReceive!();
    call.handOut(() => {
      transport.deliver('a', { id: 'm1' });
      transport.deliver('b', { id: 'm2' });
    });
    call.end(2);
    await waitFor(() => named(spans(), 'ack orders').length === 2);
    const [receive, ...more] = named(spans(), 'receive orders');
    expect(more).toHaveLength(0);
    expect(receive!.kind).toBe(SpanKind.CLIENT);
    expect(receive!.parentSpanContext).toBeUndefined();
    expect(receive!.attributes).toMatchObject({
      'messaging.system': 'fake',
      'messaging.destination.name': 'orders',
      'messaging.consumer.group.name': 'billing',
      'messaging.operation.type': 'receive',
      'messaging.operation.name': 'receive',
      'messaging.batch.message_count': 2,
    });
    const processes = named(spans(), 'process orders');
    expect(processes).toHaveLength(2);
    for (const p of processes) {
      expect(p.links.map((l) => l.context.spanId)).toEqual([ids(receive!)]);
      expect(p.parentSpanContext).toBeUndefined(); // the fake's messages carry no traceparent
    }
    // a delivery handed over outside any receive links to nothing
    transport.deliver('c', { id: 'm3' });
    await waitFor(() => named(spans(), 'process orders').length === 3);
    expect(named(spans(), 'process orders')[2]!.links).toEqual([]);
    // the receive's duration is a messaging.client.operation.duration point
    const { resourceMetrics } = await reader.collect();
    const duration = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === 'messaging.client.operation.duration');
    const receivePoints = duration?.dataPoints.filter(
      (p) => p.attributes['messaging.operation.name'] === 'receive',
    );
    expect(receivePoints).toHaveLength(1);
  });

  it('a message with a creation context: parent = that context, links = [it, the receive]', async () => {
    const { transport, carrier, spans } = await fake();
    await carrier.subscribe('orders', { group: 'billing' }, () => {});
    const call = transport.subscribeOptions!.onReceive!();
    call.handOut(() => {
      const sink = transport.sink!;
      transport.sink = (d) =>
        sink({ ...d, message: { ...d.message, metadata: { traceparent: TRACEPARENT } } });
      try {
        transport.deliver('a');
      } finally {
        transport.sink = sink;
      }
    });
    call.end(1);
    await waitFor(() => named(spans(), 'process orders').length === 1);
    const [receive] = named(spans(), 'receive orders');
    const [process] = named(spans(), 'process orders');
    expect(receive!.attributes['messaging.batch.message_count']).toBeUndefined();
    expect(process!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(process!.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(process!.links.map((l) => l.context.spanId)).toEqual(['b7ad6b7169203331', ids(receive!)]);
  });

  it('an empty receive leaves no span; a failed one has error.type; handOut before end keeps one span (a pull whose messages arrive one by one)', async () => {
    const { transport, carrier, spans } = await fake();
    await carrier.subscribe('orders', { group: 'billing' }, () => {});
    const onReceive = transport.subscribeOptions!.onReceive!;
    onReceive().end(0);
    const failed = onReceive();
    failed.end(0, new TypeError('socket'));
    const pull = onReceive();
    pull.handOut(() => transport.deliver('a', { id: 'p1' }));
    pull.handOut(() => transport.deliver('b', { id: 'p2' }));
    pull.handOut(() => transport.deliver('c', { id: 'p3' }));
    pull.end(3);
    pull.end(99); // only the first end counts
    await waitFor(() => named(spans(), 'process orders').length === 3);
    const receives = named(spans(), 'receive orders');
    expect(receives).toHaveLength(2);
    const [bad, good] = receives;
    expect(bad!.attributes['error.type']).toBe('TypeError');
    expect(bad!.status.code).toBe(SpanStatusCode.ERROR);
    expect(good!.attributes['messaging.batch.message_count']).toBe(3);
    for (const p of named(spans(), 'process orders'))
      expect(p.links.map((l) => l.context.spanId)).toEqual([ids(good!)]);
  });

  it('without telemetry the transport gets no onReceive', async () => {
    const transport = new FakeTransport();
    const carrier = new Carrier(transport, () => {});
    open.push(carrier);
    await carrier.subscribe('orders', { group: 'billing' }, () => {});
    expect(transport.subscribeOptions?.onReceive).toBeUndefined();
  });
});

describe('dead-letter readers', () => {
  it('fake transport: process span with carrier.dead_letter=true linked to its receive, ack and release settle spans', async () => {
    const { transport, carrier, spans } = await fake();
    let fail = false;
    await carrier.deadLetters('orders', 'billing').subscribe(() => {
      if (fail) throw new RangeError('not now');
    });
    const call = transport.deadLetterOptions!.onReceive!();
    call.handOut(() => transport.deliverDeadLetter({ reason: 'x', attempts: 3 }, { id: 'd1' }));
    call.end(1);
    await waitFor(() => named(spans(), 'process orders').length === 1);
    const [receive] = named(spans(), 'receive orders');
    const [process] = named(spans(), 'process orders');
    const [ack] = named(spans(), 'ack orders');
    expect(receive!.attributes['carrier.dead_letter']).toBe(true);
    expect(process!.kind).toBe(SpanKind.CONSUMER);
    expect(process!.attributes).toMatchObject({
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.consumer.group.name': 'billing',
      'messaging.message.id': 'd1',
      'carrier.dead_letter': true,
    });
    expect(process!.attributes['carrier.delivery.attempt']).toBeUndefined();
    expect(process!.links.map((l) => l.context.spanId)).toEqual([ids(receive!)]);
    expect(ack!.parentSpanContext?.spanId).toBe(ids(process!));
    expect(ack!.attributes).toMatchObject({
      'messaging.operation.type': 'settle',
      'carrier.dead_letter': true,
    });
    fail = true;
    transport.deliverDeadLetter(undefined, { id: 'd2' });
    await waitFor(() => named(spans(), 'process orders').length === 2, 3_000);
    const failed = named(spans(), 'process orders').find(
      (s) => s.attributes['messaging.message.id'] === 'd2',
    );
    expect(failed!.attributes['error.type']).toBe('RangeError');
    expect(named(spans(), 'release orders')[0]!.parentSpanContext?.spanId).toBe(ids(failed!));
  });

  it('memory transport: a dead letter read back continues its trace (parent = send), no receive span (push-based)', async () => {
    const p = providers();
    const carrier = await connect(`memory://dlq-otel-${process.pid}`, { telemetry: p });
    open.push(carrier);
    await carrier.subscribe('jobs', { group: 'workers', retry: { maxAttempts: 1 } }, () => {
      throw new Error('no');
    });
    await carrier.publish('jobs', 'x');
    await carrier.deadLetters('jobs', 'workers').subscribe(() => {});
    // a reader settles inside its process span: that span ends after the ack span
    const readerSpan = () =>
      named(p.spans(), 'process jobs').some((s) => s.attributes['carrier.dead_letter']);
    await waitFor(readerSpan);
    const [send] = named(p.spans(), 'send jobs');
    const letter = named(p.spans(), 'process jobs').filter(
      (s) => s.attributes['carrier.dead_letter'] === true,
    );
    expect(letter).toHaveLength(1);
    expect(letter[0]!.parentSpanContext?.spanId).toBe(ids(send!));
    expect(letter[0]!.spanContext().traceId).toBe(send!.spanContext().traceId);
    expect(named(p.spans(), 'ack jobs')[0]!.parentSpanContext?.spanId).toBe(ids(letter[0]!));
    expect(named(p.spans(), 'receive jobs')).toHaveLength(0);
  });
});
