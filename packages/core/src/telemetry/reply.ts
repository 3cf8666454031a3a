import type { Attributes, Span } from '@opentelemetry/api';
import type { MessageMetadata } from '../metadata.js';
import type { WireMessage } from '../transport.js';
import { secondsSince, withError } from './metrics.js';
import {
  ATTR_MESSAGING_DESTINATION_ANONYMOUS,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_TEMPORARY,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_CONVERSATION_ID,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  OPERATION_NAME,
  OPERATION_TYPE,
} from './semconv.js';
import type { Telemetry } from './telemetry.js';
import { extractSpanContext, type TraceFields, traceFields } from './trace-context.js';

/**
 * The attributes of a reply's spans and metrics. A reply destination is temporary and its name is
 * generated, so the span name is the operation alone (`send`, `process`: messaging-spans.md,
 * "Span name": a destination of high cardinality is not put in the name) and the metrics leave its
 * name out; the spans carry it as `messaging.destination.name`.
 */
function replyAttributes(telemetry: Telemetry): Attributes {
  const { [ATTR_MESSAGING_DESTINATION_NAME]: _name, ...base } = telemetry.attributes('');
  return {
    ...base,
    [ATTR_MESSAGING_DESTINATION_TEMPORARY]: true,
    [ATTR_MESSAGING_DESTINATION_ANONYMOUS]: true,
  };
}

function messageAttributes(message: WireMessage, address: string | undefined): Attributes {
  const attributes: Attributes = {
    [ATTR_MESSAGING_MESSAGE_ID]: message.id,
    [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: message.body.byteLength,
  };
  if (address !== undefined) attributes[ATTR_MESSAGING_DESTINATION_NAME] = address;
  const conversation = message.metadata?.correlationId;
  if (conversation !== undefined) attributes[ATTR_MESSAGING_MESSAGE_CONVERSATION_ID] = conversation;
  return attributes;
}

/**
 * The telemetry of one reply a server sends (`message.reply`, or the error reply of a failed
 * handler): a PRODUCER span `send`, child of the active context (the request's process span when
 * the handler replies), whose context the reply carries, so the requester's `process` span of the
 * reply continues the request's trace. Counted in `messaging.client.sent.messages`.
 */
export class ReplySendScope {
  readonly #telemetry: Telemetry;
  readonly #span: Span | undefined;
  readonly #attributes: Attributes;
  readonly #start = performance.now();
  /** The trace context the reply carries (`undefined` without a tracer). */
  readonly fields: TraceFields | undefined;

  constructor(telemetry: Telemetry, replyTo: string, request: MessageMetadata) {
    this.#telemetry = telemetry;
    this.#attributes = replyAttributes(telemetry);
    const { api } = telemetry;
    const attributes: Attributes = {
      ...this.#attributes,
      [ATTR_MESSAGING_DESTINATION_NAME]: replyTo,
      [ATTR_MESSAGING_OPERATION_TYPE]: OPERATION_TYPE.send,
      [ATTR_MESSAGING_OPERATION_NAME]: OPERATION_NAME.send,
    };
    if (request.correlationId !== undefined)
      attributes[ATTR_MESSAGING_MESSAGE_CONVERSATION_ID] = request.correlationId;
    // in the handler: a child of its process span; after it (the error reply of a failed handler)
    // or without a context manager, a child of the request's own trace context
    const active = api.context.active();
    const remote = extractSpanContext(request, (raw) => api.createTraceState(raw));
    const parent =
      api.trace.getSpan(active) || !remote ? active : api.trace.setSpanContext(api.ROOT_CONTEXT, remote);
    this.#span = telemetry.startSpan(OPERATION_NAME.send, api.SpanKind.PRODUCER, attributes, parent);
    this.fields = this.#span && traceFields(this.#span.spanContext(), api.isSpanContextValid);
  }

  /** The reply is built: its id and size go on the span. */
  built(message: WireMessage): void {
    this.#span?.setAttributes(messageAttributes(message, undefined));
  }

  /** Run the broker call in the span's context. */
  run<T>(send: () => T): T {
    const { api } = this.#telemetry;
    return this.#span ? api.context.with(api.trace.setSpan(api.context.active(), this.#span), send) : send();
  }

  /** The reply was sent, or failed with `error`. */
  end(error?: unknown): void {
    const failure = error === undefined ? undefined : this.#telemetry.fail(this.#span, error);
    this.#span?.end();
    const metrics = this.#telemetry.metrics;
    if (!metrics) return;
    const attributes = withError(
      { ...this.#attributes, [ATTR_MESSAGING_OPERATION_NAME]: OPERATION_NAME.send },
      failure,
    );
    metrics.sent.add(1, attributes);
    metrics.operationDuration.record(secondsSince(this.#start), attributes);
  }
}

/**
 * A reply reached the requester: a CONSUMER span `process`, child of the reply's trace context
 * (the server's reply `send` span, itself in the request's trace), ended at once; the awaiting
 * `carrier.request` resolves (or rejects with `REQUEST_FAILED`, `error.type` on the span) with it.
 */
export function replyReceived(
  telemetry: Telemetry,
  reply: WireMessage,
  address: string,
  error?: unknown,
): void {
  const { api } = telemetry;
  const remote = extractSpanContext(reply.metadata, (raw) => api.createTraceState(raw));
  const parent = remote ? api.trace.setSpanContext(api.ROOT_CONTEXT, remote) : api.ROOT_CONTEXT;
  const span = telemetry.startSpan(
    OPERATION_NAME.process,
    api.SpanKind.CONSUMER,
    {
      ...replyAttributes(telemetry),
      ...messageAttributes(reply, address),
      [ATTR_MESSAGING_OPERATION_TYPE]: OPERATION_TYPE.process,
      [ATTR_MESSAGING_OPERATION_NAME]: OPERATION_NAME.process,
    },
    parent,
  );
  if (error !== undefined) telemetry.fail(span, error);
  span?.end();
}
