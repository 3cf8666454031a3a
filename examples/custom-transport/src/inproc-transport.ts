/**
 * A minimal third-party transport, `inproc://<hub>`: an in-process broker written only against
 * Carrier's SPI (`@carrier/core/transport`) — what an author of a new adapter starts from. Core does
 * the rest (validation, encoding, retry policy, dead-letter decisions, concurrency, per-key order
 * within a process, shutdown); this file only stores messages per group and settles deliveries.
 *
 * What it declares: fan-out and competing consumers, redrive; no per-key order across members (so
 * `ordered: true` is refused by core with `UNSUPPORTED`), no history for a new group (`replay`
 * false: `startFrom: 'earliest'` is refused by core, so `declare` ignores its options), retry
 * delays by a timer here.
 */
import { CarrierError } from '@carrier/core';
import type {
  Capabilities,
  DeadLetterDelivery,
  DeadLetterInfo,
  Delivery,
  Transport,
  TransportFactory,
  TransportSubscribeOptions,
  TransportSubscription,
  WireMessage,
} from '@carrier/core/transport';

/** A message waiting in one group's queue: the attempt of its next delivery, and why it died. */
interface Entry {
  readonly message: WireMessage;
  readonly attempt: number;
  readonly info?: DeadLetterInfo;
}

/** A consumer attached to a queue, with the deliveries it holds unsettled. */
interface Member {
  readonly prefetch: number;
  readonly deliver: (entry: Entry, settle: (then: () => void) => void) => void;
  readonly held: Set<Entry>;
  stopped: boolean;
}

/** One group's queue (or its dead letters): ready entries handed round-robin to members. */
class Queue {
  readonly ready: Entry[] = [];
  readonly members: Member[] = [];
  #next = 0;

  put(entry: Entry, front = false): void {
    if (front) this.ready.unshift(entry);
    else this.ready.push(entry);
    queueMicrotask(() => this.dispatch());
  }

  dispatch(): void {
    while (this.ready.length > 0) {
      const member = this.#pick();
      if (!member) return;
      const entry = this.ready.shift()!;
      member.held.add(entry);
      let settled = false;
      member.deliver(entry, (then) => {
        if (settled || !member.held.has(entry)) return; // settled, or given back when its member left
        settled = true;
        member.held.delete(entry);
        then();
        queueMicrotask(() => this.dispatch());
      });
    }
  }

  /** Detach `member`, putting what it held back at the front with `attempt` changed by `charge`. */
  detach(member: Member, charge: number): void {
    member.stopped = true;
    this.members.splice(this.members.indexOf(member), 1);
    for (const entry of [...member.held].reverse())
      this.put({ ...entry, attempt: entry.attempt + charge }, true);
    member.held.clear();
  }

  #pick(): Member | undefined {
    for (let i = 0; i < this.members.length; i++) {
      const member = this.members[(this.#next + i) % this.members.length]!;
      if (!member.stopped && member.held.size < member.prefetch) {
        this.#next = (this.#next + i + 1) % this.members.length;
        return member;
      }
    }
    return undefined;
  }
}

/** A group's queue and its dead letters. */
interface Group {
  readonly queue: Queue;
  readonly dead: Queue;
}

/** The broker: topics → groups, shared by every connection to the same `inproc://<hub>`. */
type Hub = Map<string, Map<string, Group>>;
const hubs = new Map<string, Hub>();

const copy = (m: WireMessage): WireMessage => ({ ...m, headers: { ...m.headers }, body: m.body.slice() });

export class InprocTransport implements Transport {
  readonly name = 'inproc';
  readonly capabilities: Capabilities = {
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: false,
    nativeDelay: false,
    maxDelayMs: 2 ** 31 - 1,
    maxMessageBytes: 256 * 1024,
    redrive: true,
    // a message is copied into the groups that exist when it is published; nothing keeps history
    replay: false,
  };
  readonly #members = new Map<Member, Queue>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(private readonly hub: Hub) {}

  #group(topic: string, group: string): Group {
    this.#open();
    const groups = this.hub.get(topic) ?? new Map<string, Group>();
    this.hub.set(topic, groups);
    const g = groups.get(group) ?? { queue: new Queue(), dead: new Queue() };
    groups.set(group, g);
    return g;
  }

  #open(): void {
    if (this.#closed)
      throw new CarrierError('CLOSED', 'inproc connection is closed', { transport: this.name });
  }

  async declare(topic: string, groups: readonly string[]): Promise<void> {
    for (const group of groups) this.#group(topic, group);
  }

  async publish(topic: string, messages: readonly WireMessage[]): Promise<void> {
    this.#open();
    const groups = [...(this.hub.get(topic)?.values() ?? [])]; // no group: kept for no one
    for (const message of messages)
      for (const g of groups) g.queue.put({ message: copy(message), attempt: 1 });
  }

  #attach(queue: Queue, prefetch: number, deliver: Member['deliver']): TransportSubscription {
    const member: Member = { prefetch, deliver, held: new Set(), stopped: false };
    queue.members.push(member);
    this.#members.set(member, queue);
    queueMicrotask(() => queue.dispatch());
    return {
      stop: async () => {
        member.stopped = true;
      },
      close: async () => {
        if (!this.#members.delete(member)) return;
        queue.detach(member, 0); // still held: given back unprocessed, no attempt charged
      },
    };
  }

  /** Run `then` as the settlement, or reject once the connection is gone (the broker redelivers). */
  #settler(settle: (then: () => void) => void) {
    return (then: () => void): Promise<void> => {
      this.#open();
      settle(then);
      return Promise.resolve();
    };
  }

  async subscribe(
    topic: string,
    group: string,
    options: TransportSubscribeOptions,
    sink: (delivery: Delivery) => void,
  ): Promise<TransportSubscription> {
    const { queue, dead } = this.#group(topic, group);
    return this.#attach(queue, options.prefetch, (entry, settle) => {
      const done = this.#settler(settle);
      sink({
        message: copy(entry.message),
        attempt: entry.attempt,
        ack: () => done(() => {}),
        retry: (delayMs) =>
          done(() => this.#later(() => queue.put({ ...entry, attempt: entry.attempt + 1 }), delayMs)),
        deadLetter: (info) => done(() => dead.put({ ...entry, info })),
        release: () => done(() => queue.put(entry, true)),
      });
    });
  }

  async subscribeDeadLetters(
    topic: string,
    group: string,
    options: { prefetch: number },
    sink: (delivery: DeadLetterDelivery) => void,
  ): Promise<TransportSubscription> {
    const { dead } = this.#group(topic, group);
    return this.#attach(dead, options.prefetch, (entry, settle) => {
      const done = this.#settler(settle);
      sink({
        message: copy(entry.message),
        info: entry.info,
        ack: () => done(() => {}),
        release: () => done(() => dead.put(entry, true)),
      });
    });
  }

  async redrive(topic: string, group: string, max: number): Promise<number> {
    const { queue, dead } = this.#group(topic, group);
    const moved = dead.ready.splice(0, max);
    for (const entry of moved) queue.put({ message: entry.message, attempt: 1 });
    return moved.length;
  }

  #later(run: () => void, delayMs: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, delayMs);
    timer.unref();
    this.#timers.add(timer); // a scheduled retry is the broker's: it survives this connection
  }

  async close(): Promise<void> {
    this.#end(0);
  }

  /** A crash: what this connection held comes back with one attempt charged. */
  async abort(): Promise<void> {
    this.#end(1);
  }

  #end(charge: number): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [member, queue] of this.#members) queue.detach(member, charge);
    this.#members.clear();
  }
}

/** `inproc://<hub>`: connections to one hub name share one in-process broker. */
export const createTransport: TransportFactory = async (url) => {
  const name = url.hostname || 'default';
  const hub: Hub = hubs.get(name) ?? new Map();
  hubs.set(name, hub);
  return new InprocTransport(hub);
};
