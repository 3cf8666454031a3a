import type {
  Capabilities,
  DeadLetterDelivery,
  DeadLetterInfo,
  DeclareOptions,
  Delivery,
  NativeAnswer,
  NativeToken,
  PartialDeadLetterInfo,
  Transport,
  TransportSubscribeOptions,
  TransportSubscription,
  WireMessage,
} from '../transport.js';

/** What happened to one fake delivery. */
export type Settlement =
  | { kind: 'ack' }
  | { kind: 'retry'; delayMs: number }
  | { kind: 'deadLetter'; info: DeadLetterInfo }
  | { kind: 'release' };

/** A dead letter the test pushes by hand, recording how core settled it. */
export interface FakeDeadLetterDelivery extends DeadLetterDelivery {
  readonly settlements: Array<'ack' | 'release'>;
}

/** A delivery the test pushes by hand, recording how core settled it. */
export interface FakeDelivery extends Delivery {
  readonly settlements: Settlement[];
}

/**
 * A tiny transport for unit tests of core: publishes are recorded, deliveries are pushed by the
 * test with `deliver()`, and every settlement and lifecycle call is logged in order.
 */
export class FakeTransport implements Transport {
  readonly name = 'fake';
  readonly published: Array<{ topic: string; messages: readonly WireMessage[] }> = [];
  readonly log: string[] = [];
  sink: ((delivery: Delivery) => void) | undefined;
  deadLetterSink: ((delivery: DeadLetterDelivery) => void) | undefined;
  /** When set, every publish waits for it (a slow broker round trip). */
  publishGate: Promise<void> | undefined;
  subscribeOptions: TransportSubscribeOptions | undefined;
  deadLetterOptions: Pick<TransportSubscribeOptions, 'prefetch' | 'onReceive'> | undefined;
  failSettle = false;
  /** When set, every settlement waits for it (a slow broker round trip). */
  settleGate: Promise<void> | undefined;
  capabilities: Capabilities = {
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: false,
    nativeDelay: true,
    maxDelayMs: 60_000,
    maxPublishDelayMs: 60_000,
    maxNativePublishDelayMs: 60_000,
    publishDelayPrecisionMs: 10,
    maxMessageBytes: 1000,
    redrive: true,
    replay: true,
  };
  declareOptions: DeclareOptions | undefined;

  /** Native access; absent unless a test sets it. */
  native: ((token: NativeToken<unknown>) => NativeAnswer | undefined) | undefined;

  async declare(topic: string, groups: readonly string[], options?: DeclareOptions): Promise<void> {
    this.declareOptions = options;
    this.log.push(`declare ${topic} ${groups.join(',')}`);
  }

  async publish(topic: string, messages: readonly WireMessage[]): Promise<void> {
    this.log.push(`publish ${topic}`);
    if (this.publishGate) await this.publishGate;
    this.published.push({ topic, messages });
  }

  async subscribe(
    topic: string,
    group: string,
    options: TransportSubscribeOptions,
    sink: (delivery: Delivery) => void,
  ): Promise<TransportSubscription> {
    this.log.push(`subscribe ${topic} ${group}`);
    this.sink = sink;
    this.subscribeOptions = options;
    return {
      stop: async () => {
        this.log.push('stop');
      },
      close: async () => {
        this.log.push('close-subscription');
      },
    };
  }

  async subscribeDeadLetters(
    _topic: string,
    _group: string,
    options: Pick<TransportSubscribeOptions, 'prefetch' | 'onReceive'>,
    sink: (delivery: DeadLetterDelivery) => void,
  ): Promise<TransportSubscription> {
    this.deadLetterSink = sink;
    this.deadLetterOptions = options;
    return { stop: async () => {}, close: async () => {} };
  }

  async redrive(_topic: string, _group: string, _max: number): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    this.log.push('close');
  }

  async abort(): Promise<void> {
    this.log.push('abort');
  }

  /** Hand core one delivery of `body` (bytes) with the given attempt; returns it to inspect settlements. */
  deliver(
    body: Uint8Array | string,
    {
      attempt = 1,
      key,
      contentType = 'text/plain; charset=utf-8',
      id = 'm1',
      lease,
    }: { attempt?: number; key?: string; contentType?: string; id?: string; lease?: AbortSignal } = {},
  ): FakeDelivery {
    if (!this.sink) throw new Error('no subscription');
    const settlements: Settlement[] = [];
    const settle = (s: Settlement) => async () => {
      this.log.push(`${s.kind} ${id}`);
      if (this.settleGate) await this.settleGate;
      if (this.failSettle) throw new Error('broker gone');
      settlements.push(s);
    };
    const delivery: FakeDelivery = {
      message: {
        id,
        key,
        headers: {},
        contentType,
        body: typeof body === 'string' ? new TextEncoder().encode(body) : body,
        publishedAt: new Date(),
      },
      attempt,
      lease,
      settlements,
      ack: () => settle({ kind: 'ack' })(),
      retry: (delayMs) => settle({ kind: 'retry', delayMs })(),
      deadLetter: (info) => settle({ kind: 'deadLetter', info })(),
      release: () => settle({ kind: 'release' })(),
    };
    this.sink(delivery);
    return delivery;
  }

  /** Hand core one dead letter (JSON body) with the given metadata; returns it to inspect settlements. */
  deliverDeadLetter(
    info: PartialDeadLetterInfo | undefined,
    { id = 'd1', publishedAt = new Date(1_000) }: { id?: string; publishedAt?: Date } = {},
  ): FakeDeadLetterDelivery {
    if (!this.deadLetterSink) throw new Error('no dead-letter subscription');
    const settlements: Array<'ack' | 'release'> = [];
    const settle = (kind: 'ack' | 'release') => async () => {
      this.log.push(`${kind} ${id}`);
      if (this.settleGate) await this.settleGate;
      if (this.failSettle) throw new Error('broker gone');
      settlements.push(kind);
    };
    const delivery: FakeDeadLetterDelivery = {
      message: {
        id,
        headers: {},
        contentType: 'application/json',
        body: new TextEncoder().encode('{"dead":true}'),
        publishedAt,
      },
      info,
      settlements,
      ack: settle('ack'),
      release: settle('release'),
    };
    this.deadLetterSink(delivery);
    return delivery;
  }
}
