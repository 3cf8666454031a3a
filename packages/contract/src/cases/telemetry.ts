import type { DeadLetter, Message } from '@carrier/core';
import { NonRetryableError } from '@carrier/core';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { expect } from 'vitest';
import type { ContractCase } from '../case.js';
import { freshName } from '../support.js';
import { describeSpans, ids, TelemetryCapture, traceparentIds } from '../telemetry-support.js';

const theme = 'telemetry';

/** An error class of the case's own, so `error.type` names it. */
class HandlerRefusal extends Error {
  override name = 'HandlerRefusal';
}

/** Whether `span` has a link to the span context `to`. */
function linksTo(span: ReadableSpan, to: { traceId: string; spanId: string }): boolean {
  return span.links.some((l) => l.context.traceId === to.traceId && l.context.spanId === to.spanId);
}

export const traceThroughRetriesAndDeadLetter: ContractCase = {
  name: 'telemetry: a message retried twice then dead-lettered is one trace (send, 3 process, retry and dead_letter settle spans) and is counted',
  theme,
  needs: ['connectOptions'],
  async run({ carrier, until }) {
    const capture = new TelemetryCapture();
    try {
      const c = await carrier({ telemetry: capture.providers });
      const topic = freshName('otel-dl');
      const seen: Message[] = [];
      await c.subscribe(
        topic,
        { group: 'g', retry: { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 50 } },
        (m) => {
          seen.push(m);
          throw new HandlerRefusal(`attempt ${m.attempt}`);
        },
      );
      const { id } = await c.publish(topic, { order: 7 });
      const letters: DeadLetter[] = [];
      await c.deadLetters(topic, 'g').subscribe((l) => {
        letters.push(l);
      });
      await until(() => letters.length >= 1, 'the dead letter');
      const groupProcess = () =>
        capture.named(`process ${topic}`).filter(
          (s) =>
            s.attributes['messaging.consumer.group.name'] === 'g' &&
            s.kind === SpanKind.CONSUMER &&
            s.attributes['carrier.dead_letter'] === undefined, // not the dead-letter reader's
        );
      await until(
        () => groupProcess().length >= 3 && capture.named(`dead_letter ${topic}`).length >= 1,
        'three process spans and the dead_letter settle span to end',
      );
      const all = capture.spans();
      const trace = describeSpans(all);

      // one send span (PRODUCER, a root: nothing was active), its context injected into the message
      const sends = capture.named(`send ${topic}`);
      expect(sends, trace).toHaveLength(1);
      const send = sends[0]!;
      const sent = ids(send.spanContext())!;
      expect(send.kind).toBe(SpanKind.PRODUCER);
      expect(send.parentSpanContext, trace).toBeUndefined();
      expect(send.attributes['messaging.destination.name']).toBe(topic);
      expect(send.attributes['messaging.operation.type']).toBe('send');
      expect(send.attributes['messaging.message.id']).toBe(id);
      // `messaging.system.name` instead under OTEL_SEMCONV_STABILITY_OPT_IN=messaging
      const systemOf = (span: ReadableSpan) =>
        span.attributes['messaging.system'] ?? span.attributes['messaging.system.name'];
      const system = systemOf(send);
      expect(typeof system === 'string' && system.length > 0, `messaging.system ${String(system)}`).toBe(
        true,
      );
      expect(seen).toHaveLength(3);
      for (const m of seen)
        expect(traceparentIds(m.metadata.traceparent), 'traceparent delivered').toEqual(sent);

      // three process spans (CONSUMER) in the publisher's trace: parent and link = the send span
      const processes = groupProcess().sort(
        (a, b) =>
          Number(a.attributes['carrier.delivery.attempt']) - Number(b.attributes['carrier.delivery.attempt']),
      );
      expect(processes, trace).toHaveLength(3);
      expect(processes.map((s) => s.attributes['carrier.delivery.attempt'])).toEqual([1, 2, 3]);
      for (const p of processes) {
        expect(p.spanContext().traceId, trace).toBe(sent.traceId);
        expect(p.parentSpanContext?.spanId, trace).toBe(sent.spanId);
        expect(linksTo(p, sent), `link to the send span\n${trace}`).toBe(true);
        expect(systemOf(p)).toBe(system);
        expect(p.attributes['messaging.destination.name']).toBe(topic);
        expect(p.attributes['messaging.operation.type']).toBe('process');
        expect(p.attributes['messaging.message.id']).toBe(id);
        expect(p.attributes['error.type']).toBe('HandlerRefusal');
      }

      // settle spans, children of the process span of the attempt they settle
      const retries = capture.named(`retry ${topic}`);
      const deadLetters = capture.named(`dead_letter ${topic}`);
      expect(retries, trace).toHaveLength(2);
      expect(deadLetters, trace).toHaveLength(1);
      const parentAttempt = (s: ReadableSpan) =>
        processes.find((p) => p.spanContext().spanId === s.parentSpanContext?.spanId)?.attributes[
          'carrier.delivery.attempt'
        ];
      expect(retries.map(parentAttempt).sort(), trace).toEqual([1, 2]);
      expect(parentAttempt(deadLetters[0]!), trace).toBe(3);
      for (const s of [...retries, ...deadLetters]) {
        expect(s.spanContext().traceId).toBe(sent.traceId);
        expect(s.attributes['messaging.operation.type']).toBe('settle');
        expect(s.attributes['messaging.destination.name']).toBe(topic);
      }

      // metrics: one sent, three deliveries consumed, two retries, one dead letter
      const where = { 'messaging.destination.name': topic };
      const names = (await capture.metricNames()).join(', ');
      expect(await capture.sum('messaging.client.sent.messages', where), names).toBe(1);
      expect(
        await capture.sum('messaging.client.consumed.messages', {
          ...where,
          'messaging.consumer.group.name': 'g',
          'carrier.dead_letter': undefined, // the group's own deliveries, not its dead-letter reader's
        }),
        names,
      ).toBe(3);
      expect(await capture.sum('carrier.retries', where), names).toBe(2);
      expect(await capture.sum('carrier.dead_letters', where), names).toBe(1);

      // the dead-letter reader's process span: in the message's trace, marked carrier.dead_letter
      const readerProcess = () =>
        capture.named(`process ${topic}`).filter((s) => s.attributes['carrier.dead_letter'] === true);
      await until(() => readerProcess().length >= 1, "the dead-letter reader's process span to end");
      const reader = readerProcess()[0]!;
      expect(reader.kind).toBe(SpanKind.CONSUMER);
      expect(reader.spanContext().traceId, describeSpans(capture.spans())).toBe(sent.traceId);
      expect(reader.parentSpanContext?.spanId).toBe(sent.spanId);
      expect(reader.attributes['messaging.message.id']).toBe(id);
    } finally {
      await capture.shutdown();
    }
  },
};

export const redriveLinksToOriginalTrace: ContractCase = {
  name: "telemetry: a redriven message's process span links to the original trace",
  theme,
  needs: ['connectOptions', 'redrive'],
  async run({ carrier, until }) {
    const capture = new TelemetryCapture();
    try {
      const c = await carrier({ telemetry: capture.providers });
      const topic = freshName('otel-redrive');
      const failing = await c.subscribe(topic, { group: 'g' }, () => {
        throw new NonRetryableError('not yet');
      });
      const { id } = await c.publish(topic, { order: 8 });
      const letters: DeadLetter[] = [];
      const reader = await c.deadLetters(topic, 'g').subscribe((l) => {
        letters.push(l);
        throw new Error('keep it'); // the letter stays in the dead-letter destination
      });
      await until(() => letters.length >= 1, 'the dead letter');
      await reader.close();
      await failing.close();
      const send = capture.named(`send ${topic}`)[0];
      expect(send, describeSpans(capture.spans())).toBeDefined();
      const original = ids(send!.spanContext())!;
      const redriven: Message[] = [];
      await c.subscribe(topic, { group: 'g' }, (m) => {
        redriven.push(m);
      });
      expect(await c.deadLetters(topic, 'g').redrive()).toBe(1);
      await until(() => redriven.some((m) => m.id === id), 'the redriven message');
      const handled = () =>
        capture
          .named(`process ${topic}`)
          .filter(
            (s) =>
              s.attributes['messaging.consumer.group.name'] === 'g' &&
              !s.attributes['error.type'] &&
              s.attributes['carrier.dead_letter'] === undefined,
          );
      await until(() => handled().length >= 1, 'the process span of the redriven message');
      const trace = describeSpans(capture.spans());
      const span = handled()[0]!;
      expect(span.attributes['messaging.message.id']).toBe(id);
      expect(span.attributes['carrier.delivery.attempt']).toBe(1);
      expect(traceparentIds(redriven[0]!.metadata.traceparent), 'traceparent survives redrive').toEqual(
        original,
      );
      expect(linksTo(span, original), `link to the original send span\n${trace}`).toBe(true);
      expect(
        await capture.sum('carrier.redrives', { 'messaging.destination.name': topic }),
        (await capture.metricNames()).join(', '),
      ).toBe(1);
    } finally {
      await capture.shutdown();
    }
  },
};

export const requestReplyCorrelates: ContractCase = {
  name: 'telemetry: a request, its handling and its reply share one trace, with the correlation id as conversation_id',
  theme,
  needs: ['connectOptions', 'requestReply'],
  async run({ carrier, until }) {
    const capture = new TelemetryCapture();
    try {
      const c = await carrier({ telemetry: capture.providers });
      const topic = freshName('otel-rr');
      const served: Message[] = [];
      await c.subscribe(topic, { group: 'server' }, async (m) => {
        served.push(m);
        await m.reply({ ok: true });
      });
      const reply = await c.request(topic, { q: 1 }, { timeoutMs: 15_000 });
      expect(reply.body).toEqual({ ok: true });
      const processed = () =>
        capture
          .named(`process ${topic}`)
          .filter((s) => s.attributes['messaging.consumer.group.name'] === 'server');
      await until(() => processed().length >= 1, 'the process span of the request');
      const trace = describeSpans(capture.spans());
      const request = capture.named(`send ${topic}`);
      expect(request, trace).toHaveLength(1);
      const span = processed()[0]!;
      expect(span.spanContext().traceId, trace).toBe(request[0]!.spanContext().traceId);
      const correlationId = served[0]!.metadata.correlationId;
      expect(correlationId).toBeTypeOf('string');
      expect(span.attributes['messaging.message.conversation_id']).toBe(correlationId);
      // the reply: a send span in the same trace, and its arrival at the requester a process span
      // under it (both named by the operation alone: the reply destination is temporary)
      await until(() => capture.named('process').length >= 1, "the requester's process span of the reply");
      const all = describeSpans(capture.spans());
      const [sent] = capture.named('send');
      const [arrived] = capture.named('process');
      expect(sent, all).toBeDefined();
      for (const s of [sent!, arrived!]) {
        expect(s.spanContext().traceId, all).toBe(request[0]!.spanContext().traceId);
        expect(s.attributes['messaging.message.conversation_id'], all).toBe(correlationId);
        expect(s.attributes['messaging.destination.temporary'], all).toBe(true);
      }
      expect(arrived!.parentSpanContext?.spanId, all).toBe(sent!.spanContext().spanId);
      expect(reply.metadata.traceparent, all).toContain(sent!.spanContext().spanId);
    } finally {
      await capture.shutdown();
    }
  },
};
