import type { Attributes, Context, Link, Meter, Span, SpanContext, Tracer } from '@opentelemetry/api';
import { isCarrierError } from '../errors.js';
import type { WireMessage } from '../transport.js';
import { CarrierMetrics, secondsSince, withError } from './metrics.js';
import { ProcessScope } from './process.js';
import { PublishScope } from './publish.js';
import { ReceiveScope } from './receive.js';
import {
  ATTR_CARRIER_DEAD_LETTER,
  ATTR_CARRIER_REDRIVE_COUNT,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_SYSTEM,
  ATTR_MESSAGING_SYSTEM_NAME,
  OPERATION_NAME,
} from './semconv.js';
import { newerSystemName, type SemconvStability } from './stability.js';

/** `@opentelemetry/api`, as imported on demand. */
export type OtelApi = typeof import('@opentelemetry/api');

/** What `loadTelemetry` found. */
export interface TelemetryParts {
  readonly api: OtelApi;
  readonly tracer: Tracer | undefined;
  readonly meter: Meter | undefined;
  /** `messaging.system` (the transport's `system`, else its name). */
  readonly system: string;
  readonly stability: SemconvStability;
}

/** `error.type` of a failure: the `CarrierError` code, else the error's constructor name, else `_OTHER`. */
export function errorType(error: unknown): string {
  if (isCarrierError(error)) return error.code;
  if (error instanceof Error) return error.constructor.name || error.name;
  return '_OTHER';
}

/**
 * One connection's telemetry (internal: created by `connect` when a provider is there, absent
 * otherwise, so every hook is one `?.`). Spans and metrics of publish, process, settle and redrive;
 * `meter` and `attributes` serve other instruments of the connection (e.g. `carrier.consumer.lag`).
 */
export class Telemetry {
  readonly api: OtelApi;
  readonly tracer: Tracer | undefined;
  /** The connection's meter (`@carrier/core`), or `undefined` when metrics are off. */
  readonly meter: Meter | undefined;
  readonly metrics: CarrierMetrics | undefined;
  readonly #system: Attributes;

  constructor(parts: TelemetryParts) {
    this.api = parts.api;
    this.tracer = parts.tracer;
    this.meter = parts.meter;
    this.metrics = parts.meter ? new CarrierMetrics(parts.meter) : undefined;
    const system: Record<string, string> = {};
    if (parts.stability.pinned) system[ATTR_MESSAGING_SYSTEM] = parts.system;
    if (parts.stability.newer) system[ATTR_MESSAGING_SYSTEM_NAME] = newerSystemName(parts.system);
    this.#system = Object.freeze(system);
  }

  /**
   * The attributes every span and metric of `topic` carries: `messaging.system` (and/or
   * `messaging.system.name`, see `OTEL_SEMCONV_STABILITY_OPT_IN`), `messaging.destination.name`,
   * and `messaging.consumer.group.name` when `group` is given.
   */
  attributes(topic: string, group?: string): Attributes {
    const attributes: Attributes = { ...this.#system, [ATTR_MESSAGING_DESTINATION_NAME]: topic };
    if (group !== undefined) attributes[ATTR_MESSAGING_CONSUMER_GROUP_NAME] = group;
    return attributes;
  }

  /** Start the telemetry of one publish of `count` (≥ 1) messages to `topic`, in the active context. */
  startPublish(topic: string, count: number): PublishScope {
    return new PublishScope(this, topic, count);
  }

  /**
   * The telemetry of one subscription: receive, process and settle spans, consumer metrics.
   * `deadLetter`: a dead-letter reader (its spans and metrics carry `carrier.dead_letter=true`).
   */
  consumer(topic: string, group: string, deadLetter = false): ConsumerTelemetry {
    return new ConsumerTelemetry(this, topic, group, deadLetter ? DEAD_LETTER_ATTRIBUTES : NO_ATTRIBUTES);
  }

  /** A span `{name} {topic}` of `kind` in `parent`, or `undefined` without a tracer. */
  startSpan(
    name: string,
    kind: number,
    attributes: Attributes,
    parent: Context,
    links?: Link[],
  ): Span | undefined {
    return this.tracer?.startSpan(name, { kind, attributes, ...(links ? { links } : {}) }, parent);
  }

  /** Mark `span` failed with `error.type` (status ERROR, message only for a `CarrierError`). */
  fail(span: Span | undefined, error: unknown): string {
    const type = errorType(error);
    if (span) {
      span.setAttribute('error.type', type);
      span.setStatus({
        code: this.api.SpanStatusCode.ERROR,
        message: isCarrierError(error) ? error.message : type,
      });
    }
    return type;
  }

  /**
   * Run a redrive of `topic`/`group` under a span `redrive {topic}` (CLIENT; `carrier.redrive.count`)
   * and count the redriven messages in `carrier.redrives`. The redriven messages keep their
   * `traceparent`: their next process spans join their original traces.
   */
  async redrive(topic: string, group: string, run: () => Promise<number>): Promise<number> {
    const attributes = {
      ...this.attributes(topic, group),
      [ATTR_MESSAGING_OPERATION_NAME]: OPERATION_NAME.redrive,
    };
    const span = this.startSpan(
      `${OPERATION_NAME.redrive} ${topic}`,
      this.api.SpanKind.CLIENT,
      attributes,
      this.api.context.active(),
    );
    const start = performance.now();
    let failure: string | undefined;
    try {
      const count = await run();
      span?.setAttribute(ATTR_CARRIER_REDRIVE_COUNT, count);
      this.metrics?.redrives.add(count, this.attributes(topic, group));
      return count;
    } catch (error) {
      failure = this.fail(span, error);
      throw error;
    } finally {
      span?.end();
      this.metrics?.operationDuration.record(secondsSince(start), withError(attributes, failure));
    }
  }
}

const NO_ATTRIBUTES: Attributes = Object.freeze({});
const DEAD_LETTER_ATTRIBUTES: Attributes = Object.freeze({ [ATTR_CARRIER_DEAD_LETTER]: true });

/** The telemetry of one subscription (`topic`/`group`). */
export class ConsumerTelemetry {
  constructor(
    readonly telemetry: Telemetry,
    readonly topic: string,
    readonly group: string,
    /** Attributes of every span and metric of the subscription beyond system, topic and group. */
    readonly extra: Attributes = NO_ATTRIBUTES,
  ) {}

  /**
   * Start the process span and metrics of one delivery (attempt: 1 for the first delivery;
   * `receive`: the span context of the receive that brought it, which the process span links to).
   */
  startProcess(message: WireMessage, attempt: number | undefined, receive?: SpanContext): ProcessScope {
    return new ProcessScope(this, message, attempt, receive);
  }

  /**
   * One receive call the transport reports; `enter` gets its span context while its deliveries
   * are handed over (see {@link ReceiveScope}).
   */
  startReceive(enter: (context: SpanContext | undefined) => void): ReceiveScope {
    return new ReceiveScope(this, enter);
  }
}
