import { CarrierError } from '@carrier/core';
import type { Consumer, ConsumerConfig, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { type DeliveryLedger, decodeLedger, PartitionOffsets } from './offsets.js';
import { holdingAssigner, type RejoinContext } from './rejoin-hook.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

/** What the reader gives the code that turns a record into a delivery. */
export interface RecordHandle {
  /**
   * How many times the group had this record handed to a member before without it being settled
   * (from the commit metadata; 0 for a first delivery). A release is not counted.
   */
  readonly previousDeliveries: number;
  /** Aborted (reason: `CarrierError` `LEASE_LOST`) when the partition was given up before the record was settled. */
  readonly lease: AbortSignal;
  /**
   * The record is done: it stops holding the partition's committed position back. Resolves once a
   * commit covering everything done so far has been sent (or nothing was committable yet).
   */
  done(): Promise<void>;
  /**
   * The record goes back unprocessed (shutdown): it stays uncommitted, so the partition's next owner
   * reads it again, and this delivery is not counted. Resolves once that is committed.
   */
  release(): Promise<void>;
  /**
   * The record's settlement failed: it is read again from the broker and handed out again (with
   * its delivery counted), without holding other records' commits back for longer than that.
   */
  failed(): void;
}

/** Committed offsets with their metadata, per `topic\u0000partition`. */
export type CommittedOffsets = ReadonlyMap<string, { offset: number; metadata: string | null }>;

/** Settings of one {@link GroupReader}. */
export interface GroupReaderSettings {
  readonly groupId: string;
  /** Topics to read; `fromBeginning` applies only to partitions without a committed offset. */
  readonly topics: readonly { readonly topic: string; readonly fromBeginning: boolean }[];
  /** Most records handed out and not yet done or given back. */
  readonly prefetch: number;
  readonly consumer: Omit<ConsumerConfig, 'groupId'>;
  /** Longest `start()` waits for the first group join. */
  readonly joinTimeoutMs: number;
  /**
   * The group's rebalance timeout (also passed to kafkajs): a partition being revoked waits this
   * long, less {@link REBALANCE_MARGIN_MS}, for its records in flight to be settled.
   */
  readonly rebalanceTimeoutMs: number;
  /**
   * Record each record's delivery count in the commit metadata before handing it out (one commit
   * per handed-out chunk), so that a crash counts. Off for readers whose deliveries have no attempt.
   */
  readonly countDeliveries: boolean;
  /** Reads the group's committed offsets and metadata of the assigned partitions (at each join). */
  readonly readCommitted: (
    assignment: Readonly<Record<string, readonly number[]>>,
  ) => Promise<CommittedOffsets>;
  /** For delayed records: the time (ms since the epoch) before which `record` must not be handed out. */
  readonly notBefore?: ((topic: string, record: KafkaMessage) => number | undefined) | undefined;
  /** Hand one record over. Must not throw. */
  readonly deliver: (topic: string, partition: number, record: KafkaMessage, handle: RecordHandle) => void;
  /** A request of this consumer to `broker` (`host:port`) timed out. */
  readonly onRequestTimeout?: ((broker: string) => void) | undefined;
  /** Asynchronous failures (the consumer crashed for good, leases lost at a rebalance). */
  readonly onError: (error: Error) => void;
}

type State = 'running' | 'stopped' | 'closed' | 'aborted';

/**
 * How much earlier than the rebalance timeout a revoked partition stops waiting for its records:
 * the coordinator's timer started when the rebalance began, which this member notices up to a
 * heartbeat interval plus a fetch wait later, and the commit and JoinGroup need time too.
 */
export const REBALANCE_MARGIN_MS = 3_000;

interface InFlight {
  readonly offsets: PartitionOffsets;
  readonly offset: number;
  readonly lease: AbortController;
}

/**
 * One kafkajs consumer in one consumer group, with Carrier's flow control: at most `prefetch`
 * records are outstanding (the batch loop waits, heartbeating, until one is done), offsets are
 * committed per partition only up to the first record not yet done, delayed records pause only
 * their own partition until due. Auto-commit is off: only what was done is ever committed.
 *
 * Rebalances: before this member rejoins (and so gives up its partitions) it waits for its records
 * in flight to be settled and commits them, up to the rebalance timeout less a margin; past that it
 * aborts their leases with `LEASE_LOST` (the next owner reads them again). Delivery counts
 * live in the commit metadata (see offsets.ts), so that a crash, an abort or a lost lease counts
 * as a delivery and a release does not.
 */
export class GroupReader {
  readonly #settings: GroupReaderSettings;
  readonly #consumer: Consumer;
  #state: State = 'running';
  readonly #inFlight = new Set<InFlight>();
  #offsets = new Map<string, PartitionOffsets>();
  #ledgers: Promise<CommittedOffsets> = Promise.resolve(new Map());
  readonly #wakers = new Set<() => void>();
  readonly #dueTimers = new Map<string, NodeJS.Timeout>();
  #commitWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  #committing: Promise<void> | undefined;
  #joined = false;
  #closing: Promise<void> | undefined;

  constructor(kafka: Kafka, settings: GroupReaderSettings) {
    this.#settings = settings;
    this.#consumer = kafka.consumer({
      ...settings.consumer,
      rebalanceTimeout: settings.rebalanceTimeoutMs,
      groupId: settings.groupId,
      partitionAssigners: [holdingAssigner((context) => this.#beforeRejoin(context))],
    });
  }

  /** The kafkajs consumer (for instrumentation; do not commit or seek through it). */
  get consumer(): Consumer {
    return this.#consumer;
  }

  /** Records handed out and not yet done or given back. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Connects, joins the group and starts fetching; resolves after the first join (partitions assigned). */
  async start(): Promise<void> {
    const consumer = this.#consumer;
    let resolveJoin!: () => void;
    let rejectJoin!: (error: unknown) => void;
    const joined = new Promise<void>((resolve, reject) => {
      resolveJoin = resolve;
      rejectJoin = reject;
    });
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      // a new generation: positions of the old assignment are the old owner's business now
      this.#offsets = new Map();
      const ledgers = this.#settings.readCommitted(event.payload.memberAssignment).catch(
        () => new Map() as CommittedOffsets, // without it counts start from the record headers again
      );
      this.#ledgers = ledgers;
      this.#joined = true;
      resolveJoin();
    });
    consumer.on(consumer.events.CRASH, (event) => {
      if (this.#state === 'closed' || this.#state === 'aborted') return;
      if (event.payload.restart) {
        // kafkajs restarts the consumer by itself; the application hears of the trouble
        if (this.#joined) this.#trouble(event.payload.error);
        return;
      }
      if (!this.#joined) rejectJoin(event.payload.error);
      else this.#settings.onError(event.payload.error);
    });
    consumer.on(consumer.events.REQUEST_TIMEOUT, (event) => {
      if (this.#state !== 'running' && this.#state !== 'stopped') return;
      this.#settings.onRequestTimeout?.(event.payload.broker);
      const { broker, apiName, pendingDuration } = event.payload;
      this.#trouble(
        new Error(`${apiName} request to broker ${broker} got no answer (${pendingDuration} ms)`),
      );
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      for (const { topic, fromBeginning } of this.#settings.topics)
        await consumer.subscribe({ topics: [topic], fromBeginning });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: (payload) => this.#eachBatch(payload),
      });
      await Promise.race([
        joined,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(
                  `no group join of ${this.#settings.groupId} within ${this.#settings.joinTimeoutMs} ms`,
                ),
              ),
            this.#settings.joinTimeoutMs,
          );
        }),
      ]);
    } catch (error) {
      this.#state = 'aborted';
      await consumer.disconnect().catch(() => {});
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  #lastTrouble = 0;

  /** Reports connection trouble to onError, at most once per second (a silent broker times out many requests). */
  #trouble(error: Error): void {
    const now = Date.now();
    if (now - this.#lastTrouble < 1_000) return;
    this.#lastTrouble = now;
    this.#settings.onError(error);
  }

  #running(payload: Pick<EachBatchPayload, 'isRunning' | 'isStale'>): boolean {
    return this.#state === 'running' && payload.isRunning() && !payload.isStale();
  }

  async #partition(topic: string, partition: number): Promise<PartitionOffsets> {
    const key = `${topic}\u0000${partition}`;
    const offsetsMap = this.#offsets;
    const ledgers = await this.#ledgers;
    let offsets = offsetsMap.get(key);
    if (!offsets) {
      offsets = new PartitionOffsets();
      const committed = ledgers.get(key);
      if (committed && committed.offset >= 0) offsets.restore(ledgerOf(committed));
      offsetsMap.set(key, offsets);
    }
    return offsets;
  }

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat } = payload;
    const { topic, partition } = batch;
    const offsets = await this.#partition(topic, partition);
    const chunk: { record: KafkaMessage; offset: number; previous: number }[] = [];
    const flush = async () => {
      if (chunk.length === 0) return;
      const items = chunk.splice(0);
      const mark = offsets.mark();
      const handed = items.map(({ offset, previous }) => {
        offsets.handed(offset, previous + 1);
        const entry: InFlight = { offsets, offset, lease: new AbortController() };
        this.#inFlight.add(entry);
        return entry;
      });
      if (this.#settings.countDeliveries) {
        try {
          // the delivery counts are durable before any handler runs (a crash then counts); bounded,
          // so that a commit kafkajs keeps retrying does not keep this batch from heartbeating
          await this.#commitWithin(
            Math.max(1_000, Math.floor((this.#settings.consumer.sessionTimeout ?? 10_000) / 3)),
          );
        } catch (error) {
          for (const entry of handed) {
            this.#inFlight.delete(entry);
            offsets.done(entry.offset);
          }
          offsets.rewind(mark);
          this.#wake();
          throw error;
        }
      }
      items.forEach(({ record }, i) => {
        resolveOffset(record.offset);
        this.#settings.deliver(topic, partition, record, this.#handle(handed[i]!, items[i]!.previous));
      });
    };
    for (const record of batch.messages) {
      if (!this.#running(payload)) {
        await flush();
        if (this.#state === 'stopped') this.#pauseAll();
        return;
      }
      const offset = Number(record.offset);
      const plan = offsets.plan(offset);
      if (!plan.deliver) {
        // done before (or in flight here): do not hand it out again
        await flush();
        offsets.skipped(offset);
        resolveOffset(record.offset);
        continue;
      }
      const due = this.#settings.notBefore?.(topic, record);
      if (due !== undefined && due > Date.now()) {
        await flush();
        this.#pauseUntil(topic, partition, due);
        return;
      }
      while (this.#inFlight.size + chunk.length >= this.#settings.prefetch) {
        await flush();
        await this.#capacity();
        if (!this.#running(payload)) return;
        await heartbeat(); // throws when the group rebalances: kafkajs rejoins (after #beforeRejoin)
      }
      if (!this.#running(payload)) return; // stopped while waiting for the heartbeat
      chunk.push({ record, offset, previous: plan.previous });
    }
    await flush();
  }

  /** Resolves when a record is done or given back, when the reader stops, or after a heartbeat interval. */
  #capacity(): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(50, this.#settings.consumer.heartbeatInterval ?? 1_000));
      this.#wakers.add(wake);
    });
  }

  #wake(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  #handle(entry: InFlight, previousDeliveries: number): RecordHandle {
    const { offsets, offset } = entry;
    const finish = (): boolean => {
      if (!this.#inFlight.delete(entry)) return false;
      this.#wake();
      return true;
    };
    return {
      previousDeliveries,
      lease: entry.lease.signal,
      done: () => {
        if (!finish()) return Promise.resolve();
        offsets.done(offset);
        return this.#commitSoon();
      },
      release: () => {
        if (!finish()) return Promise.resolve();
        offsets.released(offset);
        return this.#commitSoon();
      },
      failed: () => {
        if (!finish()) return;
        offsets.failed(offset);
        this.#readAgain(offsets);
      },
    };
  }

  /** Seeks the partition back to the first record whose settlement failed, so it is read (and handed out) again. */
  #readAgain(offsets: PartitionOffsets): void {
    if (this.#state !== 'running') return; // the next owner reads it (it stays uncommitted)
    for (const [key, current] of this.#offsets) {
      if (current !== offsets) continue;
      const first = offsets.firstAgain();
      if (first === undefined) return;
      const [topic, partition] = key.split('\u0000') as [string, string];
      try {
        this.#consumer.seek({ topic, partition: Number(partition), offset: String(first) });
      } catch {
        // not running: the record stays uncommitted, read again after the restart or by the next owner
      }
      return;
    }
    // an older generation: the partition's next owner reads it again
  }

  /**
   * Runs before every (re)join of the group: waits for the records in flight to be settled
   * (heartbeating, so the session stays alive), commits, and only then lets the rejoin give the
   * partitions up. Past the rebalance timeout (less a margin) the leases of what is still in flight
   * are aborted: the coordinator is about to hand the partitions to another member.
   */
  async #beforeRejoin(context: RejoinContext): Promise<void> {
    if (!this.#joined || this.#state === 'aborted' || this.#state === 'closed') return;
    const started = Date.now();
    const deadline = started + Math.max(0, this.#settings.rebalanceTimeoutMs - REBALANCE_MARGIN_MS);
    const interval = Math.max(50, this.#settings.consumer.heartbeatInterval ?? 1_000);
    let lastBeat = 0;
    if (context.memberId !== null) {
      while (this.#inFlight.size > 0 && Date.now() < deadline && this.#holding()) {
        if (Date.now() - lastBeat >= interval) {
          lastBeat = Date.now();
          void context.heartbeat().catch(() => {}); // "rebalance in progress" is the expected answer
        }
        await this.#capacity();
      }
    }
    if (!this.#holding()) return;
    try {
      await this.#commitSoon();
    } catch {
      // the group moved on: what was not committed is read again by the next owner
    }
    if (this.#inFlight.size === 0) return;
    const lost = [...this.#inFlight];
    const why =
      context.memberId === null
        ? 'the group coordinator dropped this member (session expired)'
        : `its handlers ran past the rebalance timeout (${this.#settings.rebalanceTimeoutMs} ms, less ${REBALANCE_MARGIN_MS} ms)`;
    const error = new CarrierError(
      'LEASE_LOST',
      `kafka group ${this.#settings.groupId} gave up partitions with ${lost.length} deliveries unsettled: ${why}; they will be redelivered`,
      { transport: 'kafka' },
    );
    // core reports LEASE_LOST to onError once per delivery (and cancels its handler): not here too
    for (const entry of lost) entry.lease.abort(error);
  }

  #holding(): boolean {
    return this.#state === 'running' || this.#state === 'stopped';
  }

  #pauseUntil(topic: string, partition: number, due: number): void {
    const key = `${topic}\u0000${partition}`;
    clearTimeout(this.#dueTimers.get(key));
    try {
      this.#consumer.pause([{ topic, partitions: [partition] }]);
    } catch {
      return; // not running (crashed and restarting): the record is fetched and checked again
    }
    const timer = setTimeout(
      () => {
        this.#dueTimers.delete(key);
        if (this.#state !== 'running') return;
        try {
          this.#consumer.resume([{ topic, partitions: [partition] }]);
        } catch {
          // not running: a restarted consumer fetches the partition anyway
        }
      },
      Math.min(Math.max(0, due - Date.now()) + 5, MAX_TIMER_MS),
    );
    this.#dueTimers.set(key, timer);
  }

  #pauseAll(): void {
    try {
      this.#consumer.pause(this.#settings.topics.map(({ topic }) => ({ topic })));
    } catch {
      // not running
    }
  }

  #commitSoon(): Promise<void> {
    if (this.#state === 'aborted') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#commitWaiters.push({ resolve, reject });
      this.#committing ??= this.#commitLoop();
    });
  }

  async #commitWithin(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#commitSoon(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`offset commit took longer than ${ms} ms`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #commitLoop(): Promise<void> {
    try {
      while (this.#commitWaiters.length > 0) {
        // settle calls of the same moment share one commit
        await new Promise((resolve) => setImmediate(resolve));
        const waiters = this.#commitWaiters;
        this.#commitWaiters = [];
        try {
          await this.#commitNow();
          for (const w of waiters) w.resolve();
        } catch (error) {
          for (const w of waiters) w.reject(error);
        }
      }
    } finally {
      this.#committing = undefined;
    }
  }

  async #commitNow(): Promise<void> {
    if (this.#state === 'aborted') return;
    const commits: {
      topic: string;
      partition: number;
      commit: { offset: number; metadata: string };
      offsets: PartitionOffsets;
    }[] = [];
    for (const [key, offsets] of this.#offsets) {
      const commit = offsets.pending();
      if (commit === undefined) continue;
      const [topic, partition] = key.split('\u0000') as [string, string];
      commits.push({ topic, partition: Number(partition), commit, offsets });
    }
    if (commits.length === 0) return;
    await this.#consumer.commitOffsets(
      commits.map(({ topic, partition, commit }) => ({
        topic,
        partition,
        offset: String(commit.offset),
        metadata: commit.metadata,
      })),
    );
    for (const { offsets, commit } of commits) offsets.committed(commit);
  }

  /** Stop handing out records; records already handed out stay settleable (and committable) until `close()`. */
  async stop(): Promise<void> {
    if (this.#state !== 'running') return;
    this.#state = 'stopped';
    this.#wake();
    this.#pauseAll();
  }

  /** Commit what is done, leave the group and disconnect. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#state === 'aborted') return;
    this.#state = 'stopped';
    this.#wake();
    this.#pauseAll();
    try {
      await this.#commitSoon();
    } catch (error) {
      this.#settings.onError(error instanceof Error ? error : new Error(String(error)));
    } finally {
      if ((this.#state as State) !== 'aborted') this.#state = 'closed'; // abort() may have run meanwhile
      this.#clearTimers();
      this.#wake();
      await this.#consumer.disconnect().catch(() => {});
    }
  }

  /** Disconnect without committing anything more (a crash, as far as the group can tell). */
  async abort(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'aborted') return;
    this.#state = 'aborted';
    this.#wake();
    this.#clearTimers();
    await this.#consumer.disconnect().catch(() => {});
  }

  #clearTimers(): void {
    for (const timer of this.#dueTimers.values()) clearTimeout(timer);
    this.#dueTimers.clear();
  }
}

function ledgerOf(committed: { offset: number; metadata: string | null }): DeliveryLedger | undefined {
  return decodeLedger(committed.offset, committed.metadata);
}
