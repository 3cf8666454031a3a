import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { type DataPoint, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import type { Carrier } from '../carrier.js';
import { connect } from '../connect.js';
import { isCarrierError } from '../errors.js';
import { waitFor } from '../testing/wait.js';
import { errorType } from './telemetry.js';

/** A metric reader the test collects by hand. */
class ManualReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

interface Kit {
  carrier: Carrier;
  spans: () => ReadableSpan[];
  /** name → data points of the last collection. */
  metrics: () => Promise<Map<string, { unit: string; points: DataPoint<unknown>[] }>>;
}

const open: Carrier[] = [];
let serial = 0;
/** A fresh memory broker name per test. */
const fresh = (what: string) => `otel-${what}-${process.pid}-${++serial}`;

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function instrumented(broker: string): Promise<Kit> {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const reader = new ManualReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const carrier = await connect(`memory://${broker}`, { telemetry: { tracerProvider, meterProvider } });
  open.push(carrier);
  return {
    carrier,
    spans: () => exporter.getFinishedSpans(),
    metrics: async () => {
      const { resourceMetrics } = await reader.collect();
      const out = new Map<string, { unit: string; points: DataPoint<unknown>[] }>();
      for (const scope of resourceMetrics.scopeMetrics)
        for (const metric of scope.metrics)
          out.set(metric.descriptor.name, { unit: metric.descriptor.unit, points: metric.dataPoints });
      return out;
    },
  };
}

const named = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const total = (points: DataPoint<unknown>[] | undefined) =>
  (points ?? []).reduce((sum, p) => sum + (typeof p.value === 'number' ? p.value : 0), 0);

describe('traces', () => {
  it('one trace follows a message from publish to its handler: send (PRODUCER) is the parent of process (CONSUMER), which links to it', async () => {
    const { carrier, spans } = await instrumented(fresh('parent'));
    const seen: string[] = [];
    await carrier.subscribe('orders', { group: 'billing' }, (m) => {
      seen.push(m.metadata.traceparent ?? '');
    });
    const { id } = await carrier.publish('orders', { n: 1 });
    await waitFor(() => named(spans(), 'ack orders').length === 1);
    const [send] = named(spans(), 'send orders');
    const [process] = named(spans(), 'process orders');
    const [ack] = named(spans(), 'ack orders');
    expect(send!.kind).toBe(SpanKind.PRODUCER);
    expect(process!.kind).toBe(SpanKind.CONSUMER);
    expect(ack!.kind).toBe(SpanKind.CLIENT);
    expect(process!.spanContext().traceId).toBe(send!.spanContext().traceId);
    expect(parentOf(process!)).toBe(send!.spanContext().spanId);
    expect(process!.links.map((l) => l.context.spanId)).toEqual([send!.spanContext().spanId]);
    expect(parentOf(ack!)).toBe(process!.spanContext().spanId);
    expect(seen[0]).toBe(`00-${send!.spanContext().traceId}-${send!.spanContext().spanId}-01`);
    expect(send!.attributes).toMatchObject({
      'messaging.system': 'carrier_memory',
      'messaging.destination.name': 'orders',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.message.id': id,
      'messaging.message.body.size': 7,
    });
    expect(process!.attributes).toMatchObject({
      'messaging.system': 'carrier_memory',
      'messaging.destination.name': 'orders',
      'messaging.consumer.group.name': 'billing',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.message.id': id,
      'messaging.message.body.size': 7,
      'carrier.delivery.attempt': 1,
    });
    expect(ack!.attributes).toMatchObject({
      'messaging.operation.type': 'settle',
      'messaging.operation.name': 'ack',
    });
  });

  it('a message retried twice then dead-lettered: 3 process spans in one trace with error.type, retry and dead_letter settle spans, counters', async () => {
    const { carrier, spans, metrics } = await instrumented(fresh('retry'));
    await carrier.subscribe(
      'jobs',
      { group: 'workers', retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 } },
      () => {
        throw new RangeError('no');
      },
    );
    await carrier.publish('jobs', 'x');
    await waitFor(() => named(spans(), 'dead_letter jobs').length === 1);
    const [send] = named(spans(), 'send jobs');
    const process = named(spans(), 'process jobs');
    expect(process).toHaveLength(3);
    for (const p of process) {
      expect(p.spanContext().traceId).toBe(send!.spanContext().traceId);
      expect(parentOf(p)).toBe(send!.spanContext().spanId);
      expect(p.attributes['error.type']).toBe('RangeError');
      expect(p.status.code).toBe(SpanStatusCode.ERROR);
    }
    expect(process.map((p) => p.attributes['carrier.delivery.attempt']).sort()).toEqual([1, 2, 3]);
    const retries = named(spans(), 'retry jobs');
    expect(retries).toHaveLength(2);
    const [dead] = named(spans(), 'dead_letter jobs');
    const processIds = process.map((p) => p.spanContext().spanId);
    for (const s of [...retries, dead!]) expect(processIds).toContain(parentOf(s));
    expect(dead!.attributes['messaging.operation.type']).toBe('settle');
    const m = await metrics();
    expect(total(m.get('carrier.retries')?.points)).toBe(2);
    expect(total(m.get('carrier.dead_letters')?.points)).toBe(1);
    expect(total(m.get('messaging.client.consumed.messages')?.points)).toBe(3);
    expect(total(m.get('carrier.handlers.active')?.points)).toBe(0);
  });

  it('a batch: a create span (PRODUCER) per message, each injected, and one send span (CLIENT) linking to them', async () => {
    const { carrier, spans } = await instrumented(fresh('batch'));
    const parents: string[] = [];
    await carrier.subscribe('b', { group: 'g' }, () => {});
    await carrier.publishBatch('b', [{ body: 1 }, { body: 2 }]);
    await waitFor(() => named(spans(), 'process b').length === 2);
    const creates = named(spans(), 'create b');
    const [send] = named(spans(), 'send b');
    expect(creates).toHaveLength(2);
    expect(send!.kind).toBe(SpanKind.CLIENT);
    expect(send!.attributes['messaging.batch.message_count']).toBe(2);
    expect(send!.links.map((l) => l.context.spanId).sort()).toEqual(
      creates.map((c) => c.spanContext().spanId).sort(),
    );
    for (const p of named(spans(), 'process b')) parents.push(parentOf(p) ?? '');
    expect(parents.sort()).toEqual(creates.map((c) => c.spanContext().spanId).sort());
  });

  it('keeps a traceparent the user set', async () => {
    const { carrier, spans } = await instrumented(fresh('user'));
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const got: (string | undefined)[] = [];
    await carrier.subscribe('u', { group: 'g' }, (m) => {
      got.push(m.metadata.traceparent, m.metadata.tracestate);
    });
    await carrier.publish('u', 1, { metadata: { traceparent, tracestate: 'v=1' } });
    await waitFor(() => named(spans(), 'process u').length === 1);
    expect(got).toEqual([traceparent, 'v=1']);
    const [process] = named(spans(), 'process u');
    expect(process!.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(parentOf(process!)).toBe('b7ad6b7169203331');
    expect(process!.spanContext().traceState?.get('v')).toBe('1');
  });

  it('a redriven message joins its original trace; the redrive has its span and counter', async () => {
    const { carrier, spans, metrics } = await instrumented(fresh('redrive'));
    let fail = true;
    await carrier.subscribe('r', { group: 'g', retry: { maxAttempts: 1 } }, () => {
      if (fail) throw new Error('first');
    });
    await carrier.publish('r', 'x');
    await waitFor(() => named(spans(), 'dead_letter r').length === 1);
    fail = false;
    expect(await carrier.deadLetters('r', 'g').redrive()).toBe(1);
    await waitFor(() => named(spans(), 'ack r').length === 1);
    const [send] = named(spans(), 'send r');
    const process = named(spans(), 'process r');
    expect(process).toHaveLength(2);
    const redriven = process.find((p) => p.attributes['error.type'] === undefined)!;
    expect(redriven.spanContext().traceId).toBe(send!.spanContext().traceId);
    expect(redriven.links[0]?.context.spanId).toBe(send!.spanContext().spanId);
    const [redrive] = named(spans(), 'redrive r');
    expect(redrive!.attributes['carrier.redrive.count']).toBe(1);
    expect(total((await metrics()).get('carrier.redrives')?.points)).toBe(1);
  });

  it('request/reply: the request and its processing carry the correlation id as messaging.message.conversation_id', async () => {
    const { carrier, spans } = await instrumented(fresh('request'));
    await carrier.subscribe('ask', { group: 'answer' }, async (m) => {
      await m.reply('pong');
    });
    const reply = await carrier.request('ask', 'ping', { timeoutMs: 2_000 });
    expect(reply.body).toBe('pong');
    await waitFor(() => named(spans(), 'ack ask').length === 1);
    const [send] = named(spans(), 'send ask');
    const [process] = named(spans(), 'process ask');
    const conversation = reply.metadata.correlationId;
    expect(conversation).toBeTypeOf('string');
    expect(send!.attributes['messaging.message.conversation_id']).toBe(conversation);
    expect(process!.attributes['messaging.message.conversation_id']).toBe(conversation);
    expect(parentOf(process!)).toBe(send!.spanContext().spanId);
  });

  it("request/reply: the reply is sent under the handler's process span and its arrival continues the trace", async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    onTestFinished(() => context.disable());
    const { carrier, spans } = await instrumented(fresh('reply'));
    await carrier.subscribe('ask', { group: 'answer' }, async (m) => {
      await m.reply('pong');
    });
    const reply = await carrier.request('ask', 'ping', { timeoutMs: 2_000 });
    const conversation = reply.metadata.correlationId;
    await waitFor(() => named(spans(), 'process').length === 1);
    const [request] = named(spans(), 'send ask');
    const [handled] = named(spans(), 'process ask');
    const [sent] = named(spans(), 'send');
    const [arrived] = named(spans(), 'process');
    const trace = request!.spanContext().traceId;
    for (const span of [handled!, sent!, arrived!]) {
      expect(span.spanContext().traceId).toBe(trace);
      expect(span.attributes['messaging.message.conversation_id']).toBe(conversation);
    }
    expect(sent!.kind).toBe(SpanKind.PRODUCER);
    expect(parentOf(sent!)).toBe(handled!.spanContext().spanId);
    expect(sent!.attributes['messaging.destination.temporary']).toBe(true);
    expect(sent!.attributes['messaging.destination.anonymous']).toBe(true);
    expect(sent!.attributes['messaging.message.id']).toBe(reply.id);
    expect(arrived!.kind).toBe(SpanKind.CONSUMER);
    expect(parentOf(arrived!)).toBe(sent!.spanContext().spanId);
    expect(arrived!.attributes['messaging.destination.name']).toBe(
      sent!.attributes['messaging.destination.name'],
    );
    expect(reply.metadata.traceparent).toContain(sent!.spanContext().spanId);
  });

  it("request/reply: a failed handler's error reply stays in the request's trace, and its arrival is an error", async () => {
    const { carrier, spans } = await instrumented(fresh('reply-error'));
    await carrier.subscribe('ask', { group: 'answer', deadLetter: false }, () => {
      throw new Error('no answer');
    });
    await expect(carrier.request('ask', 'ping', { timeoutMs: 2_000 })).rejects.toMatchObject({
      code: 'REQUEST_FAILED',
    });
    await waitFor(() => named(spans(), 'process').length === 1);
    const [request] = named(spans(), 'send ask');
    const [sent] = named(spans(), 'send');
    const [arrived] = named(spans(), 'process');
    expect(sent!.spanContext().traceId).toBe(request!.spanContext().traceId);
    expect(parentOf(arrived!)).toBe(sent!.spanContext().spanId);
    expect(arrived!.attributes['error.type']).toBe('REQUEST_FAILED');
  });

  it('a body that does not decode: process span with error.type DECODE_FAILED and carrier.decode_failures', async () => {
    const { carrier, spans, metrics } = await instrumented(fresh('decode'));
    await carrier.subscribe('d', { group: 'g' }, () => {});
    await carrier.publish('d', new TextEncoder().encode('{not json'), { contentType: 'application/json' });
    await waitFor(() => named(spans(), 'dead_letter d').length === 1);
    expect(named(spans(), 'process d')[0]!.attributes['error.type']).toBe('DECODE_FAILED');
    expect(total((await metrics()).get('carrier.decode_failures')?.points)).toBe(1);
  });

  it('telemetry: false produces nothing, and injects no traceparent', async () => {
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const reader = new ManualReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const broker = fresh('off');
    const off = await connect(`memory://${broker}`, { telemetry: false });
    const on = await connect(`memory://${broker}`, { telemetry: { tracerProvider, meterProvider } });
    open.push(off, on);
    const got: (string | undefined)[] = [];
    await off.subscribe('o', { group: 'g' }, (m) => {
      got.push(m.metadata.traceparent);
    });
    await off.publish('o', 1);
    await waitFor(() => got.length === 1);
    expect(got).toEqual([undefined]);
    expect(off.telemetry).toBeUndefined();
    expect(exporter.getFinishedSpans()).toEqual([]);
    const { resourceMetrics } = await reader.collect();
    expect(
      resourceMetrics.scopeMetrics.flatMap((s) => s.metrics.filter((m) => m.dataPoints.length > 0)),
    ).toEqual([]);
  });

  it('no provider given and none registered globally: off (no OpenTelemetry call)', async () => {
    const carrier = await connect(`memory://${fresh('global')}`);
    open.push(carrier);
    expect(carrier.telemetry).toBeUndefined();
  });
});

describe('defaults', () => {
  it('uses the global tracer provider registered before connect', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    trace.setGlobalTracerProvider(provider);
    try {
      const carrier = await connect(`memory://${fresh('global-on')}`);
      open.push(carrier);
      await carrier.publish('g', 1);
      expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['send g']);
    } finally {
      trace.disable();
    }
  });

  it('with a context manager, a publish inside a handler is a child of its process span', async () => {
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    try {
      const { carrier, spans } = await instrumented(fresh('nested'));
      await carrier.subscribe('first', { group: 'g' }, async () => {
        await carrier.publish('second', 2);
      });
      await carrier.subscribe('second', { group: 'g' }, () => {});
      await carrier.publish('first', 1);
      // the second handler may end (synchronously) before the first one's span does
      await waitFor(
        () => named(spans(), 'process second').length === 1 && named(spans(), 'process first').length === 1,
      );
      const [first] = named(spans(), 'process first');
      const [send] = named(spans(), 'send second');
      const [second] = named(spans(), 'process second');
      expect(parentOf(send!)).toBe(first!.spanContext().spanId);
      expect(parentOf(second!)).toBe(send!.spanContext().spanId);
      expect(second!.spanContext().traceId).toBe(first!.spanContext().traceId);
    } finally {
      context.disable();
    }
  });

  it('OTEL_SEMCONV_STABILITY_OPT_IN=messaging/dup: messaging.system and messaging.system.name', async () => {
    const before = process.env.OTEL_SEMCONV_STABILITY_OPT_IN;
    process.env.OTEL_SEMCONV_STABILITY_OPT_IN = 'messaging/dup';
    try {
      const { carrier, spans } = await instrumented(fresh('dup'));
      await carrier.publish('s', 1);
      expect(named(spans(), 'send s')[0]!.attributes).toMatchObject({
        'messaging.system': 'carrier_memory',
        'messaging.system.name': 'carrier_memory',
      });
    } finally {
      if (before === undefined) delete process.env.OTEL_SEMCONV_STABILITY_OPT_IN;
      else process.env.OTEL_SEMCONV_STABILITY_OPT_IN = before;
    }
  });
});

describe('metrics', () => {
  it('names, units and attributes of the instruments', async () => {
    const { carrier, metrics } = await instrumented(fresh('metrics'));
    await carrier.subscribe('m', { group: 'g' }, () => {});
    await carrier.publishBatch('m', [{ body: 1 }, { body: 2 }]);
    let got = await metrics();
    const settled = () =>
      total(got.get('messaging.client.consumed.messages')?.points) === 2 &&
      total(got.get('carrier.handlers.active')?.points) === 0 &&
      (got.get('messaging.client.operation.duration')?.points ?? []).some(
        (p) => p.attributes['messaging.operation.name'] === 'ack',
      );
    const deadline = Date.now() + 2_000;
    while (!settled() && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      got = await metrics();
    }
    expect(settled()).toBe(true);
    const units = Object.fromEntries([...got].map(([name, m]) => [name, m.unit]));
    expect(units).toMatchObject({
      'messaging.client.sent.messages': '{message}',
      'messaging.client.consumed.messages': '{message}',
      'messaging.process.duration': 's',
      'messaging.client.operation.duration': 's',
      'carrier.handlers.active': '{handler}',
    });
    expect(total(got.get('messaging.client.sent.messages')?.points)).toBe(2);
    const [sent] = got.get('messaging.client.sent.messages')!.points;
    expect(sent!.attributes).toEqual({
      'messaging.system': 'carrier_memory',
      'messaging.destination.name': 'm',
      'messaging.operation.name': 'send',
    });
    const [consumed] = got.get('messaging.client.consumed.messages')!.points;
    expect(consumed!.attributes).toEqual({
      'messaging.system': 'carrier_memory',
      'messaging.destination.name': 'm',
      'messaging.consumer.group.name': 'g',
      'messaging.operation.name': 'process',
    });
  });

  it('a failed publish: the send span and messaging.client.sent.messages carry error.type', async () => {
    const { carrier, spans, metrics } = await instrumented(fresh('failed'));
    const error = await carrier.publish('f', 1, { key: 5 as unknown as string }).catch((e: unknown) => e);
    expect(isCarrierError(error, 'INVALID_ARGUMENT')).toBe(true);
    const [send] = named(spans(), 'send f');
    expect(send!.attributes['error.type']).toBe('INVALID_ARGUMENT');
    expect(send!.status.code).toBe(SpanStatusCode.ERROR);
    const [sent] = (await metrics()).get('messaging.client.sent.messages')!.points;
    expect(sent!.attributes['error.type']).toBe('INVALID_ARGUMENT');
  });
});

describe('errorType', () => {
  it('is the CarrierError code, else the constructor name, else _OTHER', async () => {
    const { CarrierError } = await import('../errors.js');
    expect(errorType(new CarrierError('TIMEOUT', 'x'))).toBe('TIMEOUT');
    expect(errorType(new TypeError('x'))).toBe('TypeError');
    expect(errorType('x')).toBe('_OTHER');
  });
});
