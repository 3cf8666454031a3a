import type { Attributes, Counter, Histogram, Meter, UpDownCounter } from '@opentelemetry/api';
import {
  METRIC_CARRIER_DEAD_LETTERS,
  METRIC_CARRIER_DECODE_FAILURES,
  METRIC_CARRIER_HANDLERS_ACTIVE,
  METRIC_CARRIER_REDRIVES,
  METRIC_CARRIER_RETRIES,
  METRIC_MESSAGING_CLIENT_CONSUMED_MESSAGES,
  METRIC_MESSAGING_CLIENT_OPERATION_DURATION,
  METRIC_MESSAGING_CLIENT_SENT_MESSAGES,
  METRIC_MESSAGING_PROCESS_DURATION,
} from './semconv.js';

/**
 * Bucket boundaries of the duration histograms, in seconds: the advice of the messaging
 * conventions (messaging-metrics.md, "Metric: messaging.client.operation.duration").
 */
const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** Carrier's instruments, created once per connection on its meter. */
export class CarrierMetrics {
  readonly sent: Counter;
  readonly consumed: Counter;
  readonly processDuration: Histogram;
  readonly operationDuration: Histogram;
  readonly retries: Counter;
  readonly deadLetters: Counter;
  readonly redrives: Counter;
  readonly decodeFailures: Counter;
  readonly handlersActive: UpDownCounter;

  constructor(meter: Meter) {
    const advice = { explicitBucketBoundaries: DURATION_BUCKETS_S };
    this.sent = meter.createCounter(METRIC_MESSAGING_CLIENT_SENT_MESSAGES, {
      unit: '{message}',
      description: 'Messages a producer attempted to send to the broker.',
    });
    this.consumed = meter.createCounter(METRIC_MESSAGING_CLIENT_CONSUMED_MESSAGES, {
      unit: '{message}',
      description: 'Messages delivered to the consumer.',
    });
    this.processDuration = meter.createHistogram(METRIC_MESSAGING_PROCESS_DURATION, {
      unit: 's',
      description: 'Duration of processing a message (the handler, with decoding).',
      advice,
    });
    this.operationDuration = meter.createHistogram(METRIC_MESSAGING_CLIENT_OPERATION_DURATION, {
      unit: 's',
      description: 'Duration of a send or settle operation at the broker.',
      advice,
    });
    this.retries = meter.createCounter(METRIC_CARRIER_RETRIES, {
      unit: '{message}',
      description: 'Deliveries settled as retry (scheduled for another attempt).',
    });
    this.deadLetters = meter.createCounter(METRIC_CARRIER_DEAD_LETTERS, {
      unit: '{message}',
      description: "Deliveries moved to their group's dead letters.",
    });
    this.redrives = meter.createCounter(METRIC_CARRIER_REDRIVES, {
      unit: '{message}',
      description: 'Dead letters moved back to their group by a redrive.',
    });
    this.decodeFailures = meter.createCounter(METRIC_CARRIER_DECODE_FAILURES, {
      unit: '{message}',
      description: 'Deliveries whose body did not match its content type.',
    });
    this.handlersActive = meter.createUpDownCounter(METRIC_CARRIER_HANDLERS_ACTIVE, {
      unit: '{handler}',
      description: 'Handlers running now.',
    });
  }
}

/** Seconds since `startMs` (a `performance.now()` reading). */
export function secondsSince(startMs: number): number {
  return (performance.now() - startMs) / 1000;
}

/** `attributes` with `error.type` when the operation failed. */
export function withError(attributes: Attributes, errorType: string | undefined): Attributes {
  return errorType === undefined ? attributes : { ...attributes, 'error.type': errorType };
}
