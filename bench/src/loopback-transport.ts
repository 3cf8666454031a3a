import type {
  Capabilities,
  DeadLetterDelivery,
  Delivery,
  Transport,
  TransportSubscribeOptions,
  TransportSubscription,
  WireMessage,
} from '@carrier/core';

interface Consumer {
  readonly prefetch: number;
  readonly sink: (delivery: Delivery) => void;
  readonly backlog: WireMessage[];
  head: number;
  outstanding: number;
  stopped: boolean;
}

/**
 * The cheapest transport that still honours the SPI's prefetch contract: publish hands each message
 * to the topic's one consumer (queued while its prefetch is full; dropped when no consumer is
 * attached), ack frees a prefetch slot, nothing is copied and no
 * broker is involved. Carrier over it against the same transport called directly isolates what core
 * adds per message. Only for the bench: one group per topic, no retry/dead letters.
 */
export class LoopbackTransport implements Transport {
  readonly name = 'loopback';
  readonly capabilities: Capabilities = {
    fanOut: false,
    competingConsumers: false,
    perKeyOrder: false,
    nativeDelay: true,
    maxDelayMs: 60_000,
    maxMessageBytes: 16 * 1024 * 1024,
    redrive: false,
    replay: false,
  };
  readonly #consumers = new Map<string, Consumer>();

  async declare(): Promise<void> {}

  /** With no consumer attached the messages are dropped: publish figures measure publishing only. */
  async publish(topic: string, messages: readonly WireMessage[]): Promise<void> {
    const consumer = this.#consumers.get(topic);
    if (!consumer) return;
    for (const m of messages) consumer.backlog.push(m);
    this.#pump(consumer);
  }

  #pump(c: Consumer): void {
    while (!c.stopped && c.outstanding < c.prefetch && c.head < c.backlog.length) {
      const message = c.backlog[c.head++]!;
      if (c.head > 4096 && c.head * 2 > c.backlog.length) {
        c.backlog.splice(0, c.head);
        c.head = 0;
      }
      c.outstanding++;
      const settle = async () => {
        c.outstanding--;
        this.#pump(c);
      };
      c.sink({ message, attempt: 1, ack: settle, retry: settle, deadLetter: settle, release: settle });
    }
  }

  async subscribe(
    topic: string,
    _group: string,
    options: TransportSubscribeOptions,
    sink: (delivery: Delivery) => void,
  ): Promise<TransportSubscription> {
    const consumer: Consumer = {
      prefetch: options.prefetch,
      sink,
      backlog: [],
      head: 0,
      outstanding: 0,
      stopped: false,
    };
    this.#consumers.set(topic, consumer);
    queueMicrotask(() => this.#pump(consumer));
    return {
      stop: async () => {
        consumer.stopped = true;
      },
      close: async () => {
        consumer.stopped = true;
        this.#consumers.delete(topic);
      },
    };
  }

  async subscribeDeadLetters(
    _topic: string,
    _group: string,
    _options: { prefetch: number },
    _sink: (delivery: DeadLetterDelivery) => void,
  ): Promise<TransportSubscription> {
    return { stop: async () => {}, close: async () => {} };
  }

  async redrive(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    this.#consumers.clear();
  }

  async abort(): Promise<void> {
    this.#consumers.clear();
  }
}
