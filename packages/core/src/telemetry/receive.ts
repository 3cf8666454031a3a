import type { Attributes, Span, SpanContext } from '@opentelemetry/api';
import type { ReceiveCall } from '../transport.js';
import { secondsSince, withError } from './metrics.js';
import {
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  OPERATION_NAME,
  OPERATION_TYPE,
} from './semconv.js';
import type { ConsumerTelemetry } from './telemetry.js';

/**
 * The telemetry of one receive call a transport reports (`TransportSubscribeOptions.onReceive`;
 * messaging-spans.md, "Consumer spans"): a CLIENT span `receive {topic}` from the call's start to
 * its end, with `messaging.batch.message_count` when it brought more than one message, and
 * `messaging.client.operation.duration` (`messaging.operation.name` `receive`). The span is made
 * only once the receive brings a message or fails (with its start time then): an idle long poll
 * leaves nothing. Deliveries handed over inside `handOut` are given to `onDelivery`'s owner with
 * this span's context, so that their process spans link to it. A root span: a receive is not
 * part of any message's trace.
 */
export class ReceiveScope implements ReceiveCall {
  readonly #consumer: ConsumerTelemetry;
  /** Called with this receive's span context while `handOut` runs (`undefined` on leaving). */
  readonly #enter: (context: SpanContext | undefined) => void;
  readonly #startMs = performance.now();
  readonly #startTime = performance.timeOrigin + this.#startMs;
  #span: Span | undefined;
  #ended = false;

  constructor(consumer: ConsumerTelemetry, enter: (context: SpanContext | undefined) => void) {
    this.#consumer = consumer;
    this.#enter = enter;
  }

  #attributes(): Attributes {
    const { telemetry, topic, group } = this.#consumer;
    return { ...telemetry.attributes(topic, group), ...this.#consumer.extra };
  }

  #started(): Span | undefined {
    if (this.#span) return this.#span;
    const { telemetry, topic } = this.#consumer;
    const { api } = telemetry;
    this.#span = telemetry.tracer?.startSpan(
      `${OPERATION_NAME.receive} ${topic}`,
      {
        kind: api.SpanKind.CLIENT,
        startTime: this.#startTime,
        attributes: {
          ...this.#attributes(),
          [ATTR_MESSAGING_OPERATION_TYPE]: OPERATION_TYPE.receive,
          [ATTR_MESSAGING_OPERATION_NAME]: OPERATION_NAME.receive,
        },
      },
      api.ROOT_CONTEXT,
    );
    return this.#span;
  }

  handOut<T>(handOut: () => T): T {
    const span = this.#ended ? this.#span : this.#started();
    this.#enter(span?.spanContext());
    try {
      return handOut();
    } finally {
      this.#enter(undefined);
    }
  }

  end(count: number, error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    if (count <= 0 && error === undefined && !this.#span) return;
    const { telemetry } = this.#consumer;
    const span = this.#started();
    if (count > 1) span?.setAttribute(ATTR_MESSAGING_BATCH_MESSAGE_COUNT, count);
    const failure = error === undefined ? undefined : telemetry.fail(span, error);
    span?.end();
    telemetry.metrics?.operationDuration.record(
      secondsSince(this.#startMs),
      withError({ ...this.#attributes(), [ATTR_MESSAGING_OPERATION_NAME]: OPERATION_NAME.receive }, failure),
    );
  }
}
