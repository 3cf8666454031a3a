import type { Attributes, Meter, ObservableResult } from '@opentelemetry/api';
import { METRIC_CARRIER_CONSUMER_LAG } from './telemetry/semconv.js';
import type { Transport } from './transport.js';

/** Name of Carrier's consumer-lag gauge (no messaging semantic convention defines one yet). */
export const CONSUMER_LAG_METRIC = METRIC_CARRIER_CONSUMER_LAG;

/** Longest one lag reading may take during a metric collection, in ms. */
export const LAG_OBSERVE_TIMEOUT_MS = 10_000;

/** A group this carrier consumes: what the gauge reports on. */
export interface LagTarget {
  readonly topic: string;
  readonly group: string;
}

/**
 * Registers the observable gauge `carrier.consumer.lag` (unit `{message}`) on `meter`: at each
 * collection, one observation per (topic, group) that `targets()` lists (the carrier's live
 * subscriptions; several members of one group observe once), the value `Transport.lag` reads, with
 * `attributes(topic, group)`: the connection's `messaging.system` (and/or `messaging.system.name`),
 * `messaging.destination.name` (the topic) and `messaging.consumer.group.name` (the group). A reading that fails or takes longer than
 * {@link LAG_OBSERVE_TIMEOUT_MS} is left out of that collection (a gauge has no error channel; the
 * next collection tries again). Nothing is registered where the transport cannot tell lag
 * (`capabilities.lag`).
 *
 * @returns the function that unregisters the callback (on close).
 */
export function observeConsumerLag(
  meter: Meter,
  transport: Transport,
  attributes: (topic: string, group: string) => Attributes,
  targets: () => Iterable<LagTarget>,
): () => void {
  const lag = transport.lag?.bind(transport);
  if (!lag || !transport.capabilities.lag) return () => {};
  const gauge = meter.createObservableGauge(CONSUMER_LAG_METRIC, {
    description: 'Messages waiting for the consumer group and not settled yet, as the broker counts them',
    unit: '{message}',
  });
  const callback = async (result: ObservableResult<Attributes>) => {
    const seen = new Set<string>();
    const reads: Promise<void>[] = [];
    for (const { topic, group } of targets()) {
      const key = `${topic}\u0000${group}`;
      if (seen.has(key)) continue;
      seen.add(key);
      reads.push(
        lag(topic, group, AbortSignal.timeout(LAG_OBSERVE_TIMEOUT_MS)).then(
          (reading) => result.observe(reading.messages, attributes(topic, group)),
          () => {},
        ),
      );
    }
    await Promise.all(reads);
  };
  gauge.addCallback(callback);
  return () => gauge.removeCallback(callback);
}
