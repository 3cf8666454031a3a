import { CarrierError } from '../errors.js';
import type { DeadLetterInfo, WireMessage } from '../transport.js';

/** A message held by the broker for one group, with its delivery count. */
export interface StoredEntry {
  readonly message: WireMessage;
  /** Attempt number of its next delivery. */
  readonly attempt: number;
  /** Set for dead letters. */
  readonly info?: DeadLetterInfo | undefined;
}

/** A live delivery handed to a member; settled exactly once. */
export interface Lease {
  readonly entry: StoredEntry;
  readonly member: Member;
  settled: boolean;
}

/** A consumer attached to a queue. */
export interface Member {
  readonly connectionId: number;
  readonly prefetch: number;
  readonly ordered: boolean;
  readonly deliver: (lease: Lease) => void;
  readonly leases: Set<Lease>;
  stopped: boolean;
}

/**
 * One group's queue (or one group's dead letters): FIFO of ready entries, members that compete
 * for them with bounded prefetch each, delayed redeliveries, and per-key exclusivity when a member
 * asked for ordering.
 */
export class MemoryQueue {
  readonly #ready: StoredEntry[] = [];
  readonly #members: Member[] = [];
  readonly #keysInFlight = new Map<string, number>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #nextMember = 0;
  #dispatchScheduled = false;

  /** Entries waiting for a member (not counting delayed ones or those in flight). */
  get depth(): number {
    return this.#ready.length;
  }

  /**
   * Entries of this queue not settled yet: ready ones, those waiting on a timer (a scheduled retry,
   * a delayed publish) and those leased to a member (in flight).
   */
  get unsettled(): number {
    let leased = 0;
    for (const member of this.#members) leased += member.leases.size;
    return this.#ready.length + this.#timers.size + leased;
  }

  enqueue(entry: StoredEntry, front = false): void {
    if (front) this.#ready.unshift(entry);
    else this.#ready.push(entry);
    this.#scheduleDispatch();
  }

  enqueueLater(entry: StoredEntry, delayMs: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.enqueue(entry);
    }, delayMs);
    timer.unref();
    this.#timers.add(timer);
  }

  /** Enqueue `entry` at `dueMs` (epoch ms), never earlier: a timer that fires early is set again. */
  enqueueAt(entry: StoredEntry, dueMs: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (Date.now() < dueMs) this.enqueueAt(entry, dueMs);
      else this.enqueue(entry);
    }, dueMs - Date.now());
    timer.unref();
    this.#timers.add(timer);
  }

  /** Remove up to `max` ready entries, oldest first. */
  take(max: number): StoredEntry[] {
    return this.#ready.splice(0, max);
  }

  attach(member: Member): void {
    this.#members.push(member);
    this.#scheduleDispatch();
  }

  detach(member: Member): void {
    const index = this.#members.indexOf(member);
    if (index >= 0) this.#members.splice(index, 1);
  }

  /** Settle a lease: the entry leaves the member; `then` decides where it goes. */
  settle(lease: Lease, then: () => void): void {
    if (lease.settled)
      throw new CarrierError('INVALID_ARGUMENT', 'delivery already settled', { transport: 'memory' });
    lease.settled = true;
    lease.member.leases.delete(lease);
    const key = lease.entry.message.key;
    if (key !== undefined) {
      const n = (this.#keysInFlight.get(key) ?? 1) - 1;
      if (n <= 0) this.#keysInFlight.delete(key);
      else this.#keysInFlight.set(key, n);
    }
    then();
    this.#scheduleDispatch();
  }

  #scheduleDispatch(): void {
    if (this.#dispatchScheduled) return;
    this.#dispatchScheduled = true;
    queueMicrotask(() => {
      this.#dispatchScheduled = false;
      this.#dispatch();
    });
  }

  #dispatch(): void {
    const ordered = this.#members.some((m) => m.ordered);
    while (this.#ready.length > 0) {
      const member = this.#pickMember();
      if (!member) return;
      const index = ordered
        ? this.#ready.findIndex((e) => e.message.key === undefined || !this.#keysInFlight.has(e.message.key))
        : 0;
      if (index < 0) return;
      const [entry] = this.#ready.splice(index, 1);
      if (!entry) return;
      const key = entry.message.key;
      if (key !== undefined) this.#keysInFlight.set(key, (this.#keysInFlight.get(key) ?? 0) + 1);
      const lease: Lease = { entry, member, settled: false };
      member.leases.add(lease);
      member.deliver(lease);
    }
  }

  #pickMember(): Member | undefined {
    const n = this.#members.length;
    for (let i = 0; i < n; i++) {
      const member = this.#members[(this.#nextMember + i) % n];
      if (member && !member.stopped && member.leases.size < member.prefetch) {
        this.#nextMember = (this.#nextMember + i + 1) % n;
        return member;
      }
    }
    return undefined;
  }
}

/** One topic: a queue and a dead-letter queue per group. */
export class MemoryTopic {
  readonly groups = new Map<string, MemoryQueue>();
  readonly deadLetters = new Map<string, MemoryQueue>();

  declare(group: string): MemoryQueue {
    let queue = this.groups.get(group);
    if (!queue) {
      queue = new MemoryQueue();
      this.groups.set(group, queue);
      this.deadLetters.set(group, new MemoryQueue());
    }
    return queue;
  }

  deadLetterQueue(group: string): MemoryQueue {
    this.declare(group);
    return this.deadLetters.get(group)!;
  }
}

/** An in-process broker: topics by name. Named brokers are shared by every connection of the process. */
export class MemoryBroker {
  readonly topics = new Map<string, MemoryTopic>();
  /** Open reply destinations by address: a reply to an address not here is dropped. */
  readonly replies = new Map<string, (reply: WireMessage) => void>();

  topic(name: string): MemoryTopic {
    let topic = this.topics.get(name);
    if (!topic) {
      topic = new MemoryTopic();
      this.topics.set(name, topic);
    }
    return topic;
  }

  /**
   * Every group of the topic gets its own copy, in publish order; a delayed one (`deliverAt`) is
   * put in each group's queue by a timer when due (in-process: lost with the process).
   */
  publish(topicName: string, messages: readonly WireMessage[]): void {
    const topic = this.topic(topicName);
    for (const message of messages) {
      const { deliverAt, ...rest } = message;
      const stored: WireMessage = { ...rest, headers: { ...message.headers }, body: message.body.slice() };
      for (const queue of topic.groups.values()) {
        if (deliverAt && deliverAt.getTime() > Date.now())
          queue.enqueueAt({ message: stored, attempt: 1 }, deliverAt.getTime());
        else queue.enqueue({ message: stored, attempt: 1 });
      }
    }
  }

  /** Hand `reply` to the destination at `address` (asynchronously, as a broker would), or drop it. */
  reply(address: string, reply: WireMessage): void {
    const copy: WireMessage = { ...reply, headers: { ...reply.headers }, body: reply.body.slice() };
    setImmediate(() => this.replies.get(address)?.(copy));
  }
}

const brokers = new Map<string, MemoryBroker>();

/** The process-wide broker of that name (`memory://name`); `default` for `memory://`. */
export function memoryBroker(name: string): MemoryBroker {
  let broker = brokers.get(name);
  if (!broker) {
    broker = new MemoryBroker();
    brokers.set(name, broker);
  }
  return broker;
}
