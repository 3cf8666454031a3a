import type { Delivery, Transport, TransportFactory } from '@carrier/core';

/** Unsettled deliveries a wrapped transport has handed out: now and at most. */
export interface OutstandingCounter {
  now: number;
  max: number;
}

/**
 * Wrap a transport factory so that every delivery it hands to core is counted until settled:
 * lets the suite check the transport's prefetch bound (backpressure) from the outside.
 */
export function countingFactory(inner: TransportFactory, counter: OutstandingCounter): TransportFactory {
  return async (url, options) => {
    const transport = await inner(url, options);
    const counted = (delivery: Delivery): Delivery => {
      counter.now++;
      counter.max = Math.max(counter.max, counter.now);
      let settled = false;
      const settle =
        <A extends unknown[]>(fn: (...args: A) => Promise<void>) =>
        (...args: A) => {
          if (!settled) {
            settled = true;
            counter.now--;
          }
          return fn(...args);
        };
      return {
        message: delivery.message,
        attempt: delivery.attempt,
        lease: delivery.lease,
        ack: settle(() => delivery.ack()),
        retry: settle((delayMs: number) => delivery.retry(delayMs)),
        deadLetter: settle((info) => delivery.deadLetter(info)),
        release: settle(() => delivery.release()),
        native: delivery.native?.bind(delivery),
      };
    };
    return mapDeliveries(transport, counted);
  };
}

/** What an observed transport handed to core, and how core settled each delivery. */
export interface DeliveryLog {
  /** Every delivery handed to core, in order. */
  readonly received: Array<{ id: string; attempt: number }>;
  /** Every settlement core made, in order. */
  readonly settled: Array<{ id: string; kind: 'ack' | 'retry' | 'deadLetter' | 'release' }>;
}

/**
 * Wrap a transport factory so that the suite sees, from the outside, which deliveries the
 * transport handed to core (with their attempt) and how core settled each one.
 */
export function observingFactory(inner: TransportFactory, log: DeliveryLog): TransportFactory {
  return async (url, options) => {
    const transport = await inner(url, options);
    const observed = (delivery: Delivery): Delivery => {
      const id = delivery.message.id;
      log.received.push({ id, attempt: delivery.attempt });
      return {
        message: delivery.message,
        attempt: delivery.attempt,
        lease: delivery.lease,
        ack: () => {
          log.settled.push({ id, kind: 'ack' });
          return delivery.ack();
        },
        retry: (delayMs: number) => {
          log.settled.push({ id, kind: 'retry' });
          return delivery.retry(delayMs);
        },
        deadLetter: (info) => {
          log.settled.push({ id, kind: 'deadLetter' });
          return delivery.deadLetter(info);
        },
        release: () => {
          log.settled.push({ id, kind: 'release' });
          return delivery.release();
        },
        native: delivery.native?.bind(delivery),
      };
    };
    return mapDeliveries(transport, observed);
  };
}

/** `transport` as it is, except that every delivery goes through `map` before it reaches the sink. */
function mapDeliveries(transport: Transport, map: (delivery: Delivery) => Delivery): Transport {
  return {
    name: transport.name,
    capabilities: transport.capabilities,
    declare: (topic, groups) => transport.declare(topic, groups),
    publish: (topic, messages) => transport.publish(topic, messages),
    subscribe: (topic, group, opts, sink) => transport.subscribe(topic, group, opts, (d) => sink(map(d))),
    subscribeDeadLetters: (topic, group, opts, sink) =>
      transport.subscribeDeadLetters(topic, group, opts, sink),
    redrive: (topic, group, max) => transport.redrive(topic, group, max),
    close: () => transport.close(),
    abort: () => transport.abort(),
    native: transport.native?.bind(transport),
  };
}

/** Transport subscriptions a watched transport opened, and how many of them were closed. */
export interface SubscriptionCounter {
  opened: number;
  closed: number;
}

/**
 * Wrap a transport factory so that the suite sees, from the outside, how many consumers the
 * transport started at the broker (`subscribe` resolved) and how many core closed again.
 */
export function subscriptionCountingFactory(
  inner: TransportFactory,
  counter: SubscriptionCounter,
): TransportFactory {
  return async (url, options) => {
    const transport = await inner(url, options);
    return {
      ...mapDeliveries(transport, (d) => d),
      subscribe: async (topic, group, opts, sink) => {
        const subscription = await transport.subscribe(topic, group, opts, sink);
        counter.opened++;
        let closed = false;
        return {
          native: subscription.native?.bind(subscription),
          stop: () => subscription.stop(),
          close: async () => {
            await subscription.close();
            if (!closed) counter.closed++;
            closed = true;
          },
        };
      },
    };
  };
}
