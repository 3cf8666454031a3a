import { CarrierError } from '../errors.js';
import { refuseRepeatedOptions } from '../kit/url-options.js';
import { MEMORY_SYSTEM } from '../telemetry/semconv.js';
import type {
  Capabilities,
  ConsumerLag,
  DeadLetterDelivery,
  DeclareOptions,
  Delivery,
  ReplyDestination,
  Transport,
  TransportFactoryOptions,
  TransportSubscribeOptions,
  TransportSubscription,
  WireMessage,
} from '../transport.js';
import {
  type Lease,
  type Member,
  type MemoryBroker,
  type MemoryQueue,
  memoryBroker,
} from './memory-broker.js';

/** Default largest message on `memory://`: 1 MiB, like SQS, so tests meet realistic limits. */
export const MEMORY_DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
/** Longest timer Node.js can set (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How late a Node.js timer of a delayed message may fire on a busy event loop, in ms. */
const MEMORY_PUBLISH_DELAY_PRECISION_MS = 50;

let nextConnectionId = 1;

function copyForDelivery(message: WireMessage): WireMessage {
  return { ...message, headers: { ...message.headers }, body: message.body.slice() };
}

/**
 * The in-memory transport: a real broker inside the process, with the full semantics — groups
 * compete within and fan out across, delayed redelivery, attempt counts, per-group dead letters,
 * redrive, abrupt-disconnect redelivery. Connections to the same `memory://name` share one broker.
 */
export class MemoryTransport implements Transport {
  readonly name = 'memory';
  readonly system = MEMORY_SYSTEM;
  readonly capabilities: Capabilities;
  readonly #broker: MemoryBroker;
  readonly #id = nextConnectionId++;
  readonly #members = new Map<Member, MemoryQueue>();
  /** Reply addresses this connection opened (removed on close). */
  readonly #replyAddresses = new Set<string>();
  #closed = false;

  constructor(broker: MemoryBroker, maxMessageBytes: number) {
    this.#broker = broker;
    this.capabilities = {
      fanOut: true,
      competingConsumers: true,
      perKeyOrder: true,
      nativeDelay: true,
      maxDelayMs: MAX_TIMER_MS,
      // delayed publish: a timer per message and group, in this process (lost with it)
      maxPublishDelayMs: MAX_TIMER_MS,
      maxNativePublishDelayMs: MAX_TIMER_MS,
      publishDelayPrecisionMs: MEMORY_PUBLISH_DELAY_PRECISION_MS,
      maxMessageBytes,
      redrive: true,
      // a message is copied into the queues of the groups that exist when it is published and
      // nothing else keeps it: a group created later has no history to start from
      replay: false,
      requestReply: true,
      lag: true,
    };
  }

  #ensureOpen(): void {
    if (this.#closed)
      throw new CarrierError('CLOSED', 'memory connection is closed', { transport: this.name });
  }

  /** `options.ordered` needs nothing at creation here (order is kept per member); `startFrom` is always `'now'` (no replay). */
  async declare(topic: string, groups: readonly string[], _options?: DeclareOptions): Promise<void> {
    this.#ensureOpen();
    const t = this.#broker.topic(topic);
    for (const group of groups) t.declare(group);
  }

  async publish(topic: string, messages: readonly WireMessage[]): Promise<void> {
    this.#ensureOpen();
    this.#broker.publish(topic, messages);
  }

  #attach(
    queue: MemoryQueue,
    options: { prefetch: number; ordered: boolean },
    deliver: (lease: Lease) => void,
  ) {
    const member: Member = {
      connectionId: this.#id,
      prefetch: options.prefetch,
      ordered: options.ordered,
      deliver,
      leases: new Set(),
      stopped: false,
    };
    this.#members.set(member, queue);
    queue.attach(member);
    const subscription: TransportSubscription = {
      stop: async () => {
        member.stopped = true;
      },
      close: async () => {
        member.stopped = true;
        queue.detach(member);
        this.#members.delete(member);
        // Anything still leased goes back, as a broker does when a consumer leaves.
        for (const lease of [...member.leases]) queue.settle(lease, () => queue.enqueue(lease.entry, true));
      },
    };
    return subscription;
  }

  #settle(queue: MemoryQueue, lease: Lease, then: () => void): Promise<void> {
    if (this.#closed)
      return Promise.reject(
        new CarrierError('CLOSED', 'memory connection is closed', { transport: this.name }),
      );
    queue.settle(lease, then);
    return Promise.resolve();
  }

  async subscribe(
    topic: string,
    group: string,
    options: TransportSubscribeOptions,
    sink: (delivery: Delivery) => void,
  ): Promise<TransportSubscription> {
    this.#ensureOpen();
    const t = this.#broker.topic(topic);
    const queue = t.declare(group);
    const dlq = t.deadLetterQueue(group);
    return this.#attach(queue, options, (lease) => {
      const { entry } = lease;
      sink({
        message: copyForDelivery(entry.message),
        attempt: entry.attempt,
        ack: () => this.#settle(queue, lease, () => {}),
        retry: (delayMs) =>
          this.#settle(queue, lease, () =>
            queue.enqueueLater(
              { message: entry.message, attempt: entry.attempt + 1 },
              Math.min(delayMs, MAX_TIMER_MS),
            ),
          ),
        deadLetter: (info) =>
          this.#settle(queue, lease, () =>
            dlq.enqueue({ message: entry.message, attempt: entry.attempt, info }),
          ),
        release: () => this.#settle(queue, lease, () => queue.enqueue(entry, true)),
      });
    });
  }

  async subscribeDeadLetters(
    topic: string,
    group: string,
    options: { prefetch: number },
    sink: (delivery: DeadLetterDelivery) => void,
  ): Promise<TransportSubscription> {
    this.#ensureOpen();
    const dlq = this.#broker.topic(topic).deadLetterQueue(group);
    return this.#attach(dlq, { prefetch: options.prefetch, ordered: false }, (lease) => {
      const { entry } = lease;
      sink({
        message: copyForDelivery(entry.message),
        info: entry.info, // core completes missing metadata
        ack: () => this.#settle(dlq, lease, () => {}),
        release: () => this.#settle(dlq, lease, () => dlq.enqueue(entry, true)),
      });
    });
  }

  async redrive(topic: string, group: string, max: number): Promise<number> {
    this.#ensureOpen();
    const t = this.#broker.topic(topic);
    const queue = t.declare(group);
    const moved = t.deadLetterQueue(group).take(max);
    for (const entry of moved) queue.enqueue({ message: entry.message, attempt: 1 });
    return moved.length;
  }

  /**
   * The group's unsettled messages: ready, in flight (leased to a member, unsettled) and waiting
   * on a timer (a scheduled retry or a delayed publish). Dead letters are not counted.
   *
   * @throws CarrierError `INVALID_ARGUMENT` when the group does not exist; `CLOSED`.
   */
  async lag(topic: string, group: string): Promise<ConsumerLag> {
    this.#ensureOpen();
    const queue = this.#broker.topics.get(topic)?.groups.get(group);
    if (!queue)
      throw new CarrierError('INVALID_ARGUMENT', `no group ${group} on topic ${topic}`, {
        transport: this.name,
      });
    return { messages: queue.unsettled, source: 'memory queue (ready + in flight + scheduled)' };
  }

  /** A reply address of this connection (`memory-reply:<connection>.<n>`): replies to it reach `sink`. */
  async openReplies(sink: (reply: WireMessage) => void): Promise<ReplyDestination> {
    this.#ensureOpen();
    const address = `memory-reply:${this.#id}.${crypto.randomUUID()}`;
    this.#broker.replies.set(address, sink);
    this.#replyAddresses.add(address);
    return {
      address,
      close: async () => {
        this.#broker.replies.delete(address);
        this.#replyAddresses.delete(address);
      },
    };
  }

  /** Hand `message` to the destination at `address`; dropped when none is open there (nothing kept). */
  async reply(address: string, message: WireMessage): Promise<void> {
    this.#ensureOpen();
    this.#broker.reply(address, message);
  }

  #closeReplies(): void {
    for (const address of this.#replyAddresses) this.#broker.replies.delete(address);
    this.#replyAddresses.clear();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closeReplies();
    for (const [member, queue] of this.#members) {
      queue.detach(member);
      for (const lease of [...member.leases]) queue.settle(lease, () => queue.enqueue(lease.entry, true));
    }
    this.#members.clear();
    this.#closed = true;
  }

  async abort(): Promise<void> {
    if (this.#closed) return;
    this.#closeReplies();
    // A crash: every unsettled delivery comes back, counted as a delivery attempt.
    for (const [member, queue] of this.#members) {
      queue.detach(member);
      for (const lease of [...member.leases]) {
        queue.settle(lease, () => queue.enqueue({ ...lease.entry, attempt: lease.entry.attempt + 1 }, true));
      }
    }
    this.#members.clear();
    this.#closed = true;
  }
}

/**
 * Factory for `memory://[name][?maxMessageBytes=N]` (an option given twice is refused, as on every
 * transport). Connections with the same name share one
 * in-process broker (`memory://` is the broker named `default`).
 */
export async function createMemoryTransport(url: URL, _options: TransportFactoryOptions): Promise<Transport> {
  refuseRepeatedOptions(url, 'memory');
  const name = url.hostname || 'default';
  const limit = url.searchParams.get('maxMessageBytes');
  const maxMessageBytes = limit === null ? MEMORY_DEFAULT_MAX_MESSAGE_BYTES : Number(limit);
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1) {
    throw new CarrierError('INVALID_ARGUMENT', 'maxMessageBytes must be a positive integer', {
      transport: 'memory',
    });
  }
  return new MemoryTransport(memoryBroker(name), maxMessageBytes);
}
