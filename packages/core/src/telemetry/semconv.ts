/**
 * The OpenTelemetry names Carrier emits: the messaging semantic conventions it pins
 * ({@link SEMCONV_VERSION}), copied here as the `@opentelemetry/semantic-conventions` README asks
 * of instrumentations (its incubating entry point may change in any minor release). A unit test
 * compares them with that package. Carrier's own names start with `carrier.`.
 *
 * Source: https://github.com/open-telemetry/semantic-conventions/blob/v1.37.0/docs/messaging/messaging-spans.md
 * and .../messaging-metrics.md. docs/observability.md describes every span and metric.
 */

/** Version of the OpenTelemetry semantic conventions whose messaging conventions Carrier implements. */
export const SEMCONV_VERSION = '1.37.0';
/** Schema URL of {@link SEMCONV_VERSION}, given to the tracer and the meter. */
export const SEMCONV_SCHEMA_URL = `https://opentelemetry.io/schemas/${SEMCONV_VERSION}`;
/** Name of Carrier's tracer and meter (the instrumentation scope). */
export const INSTRUMENTATION_NAME = '@carrier/core';

// attributes of the messaging conventions
/** `messaging.system`: the transport's {@link Transport.system} (`kafka`, `rabbitmq`, `aws_sqs`, `nats`, `carrier_memory`). */
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
/**
 * `messaging.system.name`: the newer name of `messaging.system` (values with `.`: `aws.sqs`),
 * emitted only under `OTEL_SEMCONV_STABILITY_OPT_IN=messaging` or `messaging/dup`.
 */
export const ATTR_MESSAGING_SYSTEM_NAME = 'messaging.system.name';
/** `messaging.destination.name`: the topic. */
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
/** `messaging.destination.temporary`: `true` on the spans of a reply, sent to the requester's temporary reply destination. */
export const ATTR_MESSAGING_DESTINATION_TEMPORARY = 'messaging.destination.temporary';
/** `messaging.destination.anonymous`: `true` on the spans of a reply (the reply destination's name is generated). */
export const ATTR_MESSAGING_DESTINATION_ANONYMOUS = 'messaging.destination.anonymous';
/** `messaging.operation.type`: `create`, `send`, `receive`, `process`, `settle`. */
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
/** `messaging.operation.name`: `send`, `create`, `receive`, `process`, `ack`, `retry`, `dead_letter`, `release`, `redrive`. */
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
/** `messaging.message.id`: the message's Carrier id. */
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';
/** `messaging.consumer.group.name`: the group. */
export const ATTR_MESSAGING_CONSUMER_GROUP_NAME = 'messaging.consumer.group.name';
/** `messaging.message.body.size`: body bytes. */
export const ATTR_MESSAGING_MESSAGE_BODY_SIZE = 'messaging.message.body.size';
/** `messaging.message.conversation_id`: `metadata.correlationId` (request/reply). */
export const ATTR_MESSAGING_MESSAGE_CONVERSATION_ID = 'messaging.message.conversation_id';
/** `messaging.batch.message_count`: messages in a `publishBatch` or a receive, when more than one. */
export const ATTR_MESSAGING_BATCH_MESSAGE_COUNT = 'messaging.batch.message_count';
/** `error.type`: the `CarrierError` code, else the error's constructor name. */
export const ATTR_ERROR_TYPE = 'error.type';

// Carrier's own attributes
/** `carrier.delivery.attempt`: the delivery's attempt, 1 for the first delivery. */
export const ATTR_CARRIER_DELIVERY_ATTEMPT = 'carrier.delivery.attempt';
/** `carrier.dead_letter`: `true` on the spans and metrics of a dead-letter reader (`deadLetters().subscribe`). */
export const ATTR_CARRIER_DEAD_LETTER = 'carrier.dead_letter';
/** `carrier.redrive.count`: dead letters a redrive moved back. */
export const ATTR_CARRIER_REDRIVE_COUNT = 'carrier.redrive.count';

/** `messaging.operation.type` values. */
export const OPERATION_TYPE = {
  create: 'create',
  send: 'send',
  receive: 'receive',
  process: 'process',
  settle: 'settle',
} as const;

/**
 * `messaging.operation.name` values, also the first word of the span names
 * (`{operation name} {topic}`: `send orders`, `process orders`, `dead_letter orders`).
 */
export const OPERATION_NAME = {
  send: 'send',
  create: 'create',
  receive: 'receive',
  process: 'process',
  ack: 'ack',
  retry: 'retry',
  deadLetter: 'dead_letter',
  release: 'release',
  redrive: 'redrive',
} as const;

/** `messaging.system` of the built-in memory transport (the conventions register none: custom, low cardinality). */
export const MEMORY_SYSTEM = 'carrier_memory';

// metrics
/** Counter `{message}`: messages a publish sent (successful or not, `error.type` on failure). */
export const METRIC_MESSAGING_CLIENT_SENT_MESSAGES = 'messaging.client.sent.messages';
/** Counter `{message}`: deliveries handed to a handler (or settled without one by core). */
export const METRIC_MESSAGING_CLIENT_CONSUMED_MESSAGES = 'messaging.client.consumed.messages';
/** Histogram `s`: handler duration (process operation). */
export const METRIC_MESSAGING_PROCESS_DURATION = 'messaging.process.duration';
/** Histogram `s`: duration of a send or settle operation at the broker. */
export const METRIC_MESSAGING_CLIENT_OPERATION_DURATION = 'messaging.client.operation.duration';
/** Counter `{message}`: deliveries settled as retry. */
export const METRIC_CARRIER_RETRIES = 'carrier.retries';
/** Counter `{message}`: deliveries dead-lettered. */
export const METRIC_CARRIER_DEAD_LETTERS = 'carrier.dead_letters';
/** Counter `{message}`: dead letters redriven to their group. */
export const METRIC_CARRIER_REDRIVES = 'carrier.redrives';
/** Counter `{message}`: deliveries whose body did not match its content type. */
export const METRIC_CARRIER_DECODE_FAILURES = 'carrier.decode_failures';
/** UpDownCounter `{handler}`: handlers running now. */
export const METRIC_CARRIER_HANDLERS_ACTIVE = 'carrier.handlers.active';
/** Observable gauge `{message}`: messages of a group not yet consumed, as the broker reports it. */
export const METRIC_CARRIER_CONSUMER_LAG = 'carrier.consumer.lag';
