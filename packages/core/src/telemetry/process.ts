import type { Attributes, Context, Link, Span, SpanContext } from '@opentelemetry/api';
import type { WireMessage } from '../transport.js';
import { secondsSince, withError } from './metrics.js';
import {
  ATTR_CARRIER_DELIVERY_ATTEMPT,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_CONVERSATION_ID,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  OPERATION_NAME,
  OPERATION_TYPE,
} from './semconv.js';
import type { ConsumerTelemetry } from './telemetry.js';
import { extractSpanContext } from './trace-context.js';

/** How core settles a delivery (the engine's names). */
export type SettleOperation = 'ack' | 'retry' | 'deadLetter' | 'release';

/**
 * The telemetry of one delivery (messaging-spans.md, "Consumer spans"): a CONSUMER span
 * `process {topic}` around the handler, whose parent is the context the message carries (so one
 * trace follows a message from publish to every attempt) and which links to it; settle spans
 * (CLIENT, `ack|retry|dead_letter|release {topic}`) as its children. Counts
 * `messaging.client.consumed.messages` and `carrier.handlers.active`; records
 * `messaging.process.duration` when it ends.
 */
export class ProcessScope {
  /** The context the handler runs in: the process span's. */
  readonly context: Context;
  readonly #consumer: ConsumerTelemetry;
  readonly #span: Span | undefined;
  readonly #messageId: string;
  readonly #metricAttributes: Attributes;
  readonly #start = performance.now();
  #failure: string | undefined;
  #ended = false;

  constructor(
    consumer: ConsumerTelemetry,
    message: WireMessage,
    attempt: number | undefined,
    receive?: SpanContext,
  ) {
    this.#consumer = consumer;
    this.#messageId = message.id;
    const { telemetry, topic, group } = consumer;
    const { api } = telemetry;
    const remote = extractSpanContext(message.metadata, api.createTraceState);
    // never the active context: a delivery may run in the continuation of another one's handler
    const parent = remote ? api.trace.setSpanContext(api.ROOT_CONTEXT, remote) : api.ROOT_CONTEXT;
    const attributes: Attributes = {
      ...telemetry.attributes(topic, group),
      ...consumer.extra,
      [ATTR_MESSAGING_OPERATION_TYPE]: OPERATION_TYPE.process,
      [ATTR_MESSAGING_OPERATION_NAME]: OPERATION_NAME.process,
      [ATTR_MESSAGING_MESSAGE_ID]: message.id,
      [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: message.body.byteLength,
    };
    if (attempt !== undefined) attributes[ATTR_CARRIER_DELIVERY_ATTEMPT] = attempt;
    const conversation = message.metadata?.correlationId;
    if (conversation !== undefined) attributes[ATTR_MESSAGING_MESSAGE_CONVERSATION_ID] = conversation;
    const links: Link[] = [];
    if (remote) links.push({ context: remote });
    if (receive) links.push({ context: receive });
    this.#span = telemetry.startSpan(
      `process ${topic}`,
      api.SpanKind.CONSUMER,
      attributes,
      parent,
      links.length > 0 ? links : undefined,
    );
    this.context = this.#span ? api.trace.setSpan(parent, this.#span) : parent;
    this.#metricAttributes = {
      ...telemetry.attributes(topic, group),
      ...consumer.extra,
      [ATTR_MESSAGING_OPERATION_NAME]: OPERATION_NAME.process,
    };
    telemetry.metrics?.consumed.add(1, this.#metricAttributes);
    telemetry.metrics?.handlersActive.add(1, this.#metricAttributes);
  }

  /** Run the handler in the process span's context (spans it starts are its children). */
  run<T>(process: () => T): T {
    return this.#consumer.telemetry.api.context.with(this.context, process);
  }

  /** The handler failed (or the body could not be decoded: `decode`). */
  fail(error: unknown, decode = false): void {
    const { telemetry } = this.#consumer;
    this.#failure = telemetry.fail(this.#span, error);
    if (decode) telemetry.metrics?.decodeFailures.add(1, this.#metricAttributes);
  }

  /** The handler is done. Only the first call counts. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#span?.end();
    const metrics = this.#consumer.telemetry.metrics;
    metrics?.handlersActive.add(-1, this.#metricAttributes);
    metrics?.processDuration.record(
      secondsSince(this.#start),
      withError(this.#metricAttributes, this.#failure),
    );
  }

  /**
   * Run a settlement under a settle span, child of the process span; on success count it in
   * `carrier.retries` / `carrier.dead_letters`. Rejects as `settle` does.
   */
  async settle(operation: SettleOperation, settle: () => Promise<void>): Promise<void> {
    const { telemetry, topic, group } = this.#consumer;
    const name = OPERATION_NAME[operation];
    const attributes = {
      ...telemetry.attributes(topic, group),
      ...this.#consumer.extra,
      [ATTR_MESSAGING_OPERATION_NAME]: name,
    };
    const span = telemetry.startSpan(
      `${name} ${topic}`,
      telemetry.api.SpanKind.CLIENT,
      {
        ...attributes,
        [ATTR_MESSAGING_OPERATION_TYPE]: OPERATION_TYPE.settle,
        [ATTR_MESSAGING_MESSAGE_ID]: this.#messageId,
      },
      this.context,
    );
    const start = performance.now();
    let failure: string | undefined;
    try {
      await settle();
      if (operation === 'retry') telemetry.metrics?.retries.add(1, attributes);
      if (operation === 'deadLetter') telemetry.metrics?.deadLetters.add(1, attributes);
    } catch (error) {
      failure = telemetry.fail(span, error);
      throw error;
    } finally {
      span?.end();
      telemetry.metrics?.operationDuration.record(secondsSince(start), withError(attributes, failure));
    }
  }
}
