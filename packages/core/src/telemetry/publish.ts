import type { Attributes, Context, Span } from '@opentelemetry/api';
import type { WireMessage } from '../transport.js';
import { secondsSince, withError } from './metrics.js';
import {
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_CONVERSATION_ID,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  OPERATION_NAME,
  OPERATION_TYPE,
} from './semconv.js';
import type { Telemetry } from './telemetry.js';
import { type TraceFields, traceFields } from './trace-context.js';

/** The per-message attributes of a producer span. */
function messageAttributes(message: WireMessage): Attributes {
  const attributes: Attributes = {
    [ATTR_MESSAGING_MESSAGE_ID]: message.id,
    [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: message.body.byteLength,
  };
  const conversation = message.metadata?.correlationId;
  if (conversation !== undefined) attributes[ATTR_MESSAGING_MESSAGE_CONVERSATION_ID] = conversation;
  return attributes;
}

/**
 * The telemetry of one publish (messaging-spans.md, "Producer spans"): one message gets a
 * PRODUCER span `send {topic}` whose context is the message's creation context; a batch gets a
 * PRODUCER span `create {topic}` per message (its creation context) and a CLIENT span
 * `send {topic}` linking to them. Both kinds are children of the active context. Records
 * `messaging.client.sent.messages` and `messaging.client.operation.duration` when it ends.
 */
export class PublishScope {
  readonly #telemetry: Telemetry;
  readonly #count: number;
  readonly #attributes: Attributes;
  readonly #send: Span | undefined;
  readonly #creates: Span[] = [];
  readonly #fields: (TraceFields | undefined)[] = [];
  readonly #context: Context;
  readonly #start = performance.now();
  #createsEnded = false;
  #ended = false;

  constructor(telemetry: Telemetry, topic: string, count: number) {
    this.#telemetry = telemetry;
    this.#count = count;
    this.#attributes = telemetry.attributes(topic);
    const { api } = telemetry;
    const parent = api.context.active();
    const valid = api.isSpanContextValid;
    const sendAttributes = {
      ...this.#attributes,
      [ATTR_MESSAGING_OPERATION_TYPE]: OPERATION_TYPE.send,
      [ATTR_MESSAGING_OPERATION_NAME]: OPERATION_NAME.send,
    };
    if (count === 1) {
      this.#send = telemetry.startSpan(`send ${topic}`, api.SpanKind.PRODUCER, sendAttributes, parent);
      this.#fields.push(this.#send && traceFields(this.#send.spanContext(), valid));
    } else {
      const createAttributes = {
        ...this.#attributes,
        [ATTR_MESSAGING_OPERATION_TYPE]: OPERATION_TYPE.create,
        [ATTR_MESSAGING_OPERATION_NAME]: OPERATION_NAME.create,
      };
      for (let i = 0; i < count; i++) {
        const create = telemetry.startSpan(
          `create ${topic}`,
          api.SpanKind.PRODUCER,
          createAttributes,
          parent,
        );
        if (create) this.#creates.push(create);
        this.#fields.push(create && traceFields(create.spanContext(), valid));
      }
      const links = this.#creates.map((create) => ({ context: create.spanContext() }));
      this.#send = telemetry.startSpan(
        `send ${topic}`,
        api.SpanKind.CLIENT,
        { ...sendAttributes, [ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: count },
        parent,
        links,
      );
    }
    this.#context = this.#send ? api.trace.setSpan(parent, this.#send) : parent;
  }

  /** The trace context to inject into message `index` (`undefined` without a tracer). */
  fieldsFor(index: number): TraceFields | undefined {
    return this.#fields[index];
  }

  /** The messages are built: their ids, sizes and conversation ids go on their spans. */
  built(messages: readonly WireMessage[]): void {
    if (messages.length === 1 && this.#count === 1) {
      this.#send?.setAttributes(messageAttributes(messages[0]!));
      return;
    }
    for (const [i, message] of messages.entries())
      this.#creates[i]?.setAttributes(messageAttributes(message));
    this.#endCreates();
  }

  #endCreates(): void {
    if (this.#createsEnded) return;
    this.#createsEnded = true;
    for (const create of this.#creates) create.end();
  }

  /** Run the broker call in the send span's context (so a native instrumentation nests under it). */
  run<T>(send: () => T): T {
    return this.#telemetry.api.context.with(this.#context, send);
  }

  /** The publish ended (`error`: how it failed). Only the first call counts. */
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#endCreates();
    const failure = error === undefined ? undefined : this.#telemetry.fail(this.#send, error);
    this.#send?.end();
    const metrics = this.#telemetry.metrics;
    if (!metrics) return;
    const attributes = withError(
      { ...this.#attributes, [ATTR_MESSAGING_OPERATION_NAME]: OPERATION_NAME.send },
      failure,
    );
    metrics.sent.add(this.#count, attributes);
    metrics.operationDuration.record(secondsSince(this.#start), attributes);
  }
}
