import type { Consumer, ConsumerConfig, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { PartitionOffsets } from './offsets.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

/** What the reader gives the code that turns a record into a delivery. */
export interface RecordHandle {
  /**
   * The record is done: it stops holding the partition's committed position back. Resolves once a
   * commit covering everything done so far has been sent (or nothing was committable yet).
   */
  done(): Promise<void>;
  /** The record goes back unprocessed: it stays uncommitted, so the partition's next owner reads it again. */
  giveBack(): void;
}

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
  /** For delayed records: the time (ms since the epoch) before which `record` must not be handed out. */
  readonly notBefore?: ((topic: string, record: KafkaMessage) => number | undefined) | undefined;
  /** Hand one record over. Must not throw. */
  readonly deliver: (topic: string, partition: number, record: KafkaMessage, handle: RecordHandle) => void;
  /** Asynchronous failures (the consumer crashed for good). */
  readonly onError: (error: Error) => void;
}

type State = 'running' | 'stopped' | 'closed' | 'aborted';

/**
 * One kafkajs consumer in one consumer group, with Carrier's flow control: at most `prefetch`
 * records are outstanding (the batch loop waits, heartbeating, until one is done), offsets are
 * committed per partition only up to the first record not yet done, delayed records pause only
 * their own partition until due, and a rebalance drops the position bookkeeping of the old
 * assignment (work still in flight is settled or abandoned; its records are read again by the new
 * owner: at-least-once). Auto-commit is off: only what was done is ever committed.
 */
export class GroupReader {
  readonly #settings: GroupReaderSettings;
  readonly #consumer: Consumer;
  #state: State = 'running';
  #inFlight = 0;
  #offsets = new Map<string, PartitionOffsets>();
  readonly #wakers = new Set<() => void>();
  readonly #dueTimers = new Map<string, NodeJS.Timeout>();
  #commitWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  #committing: Promise<void> | undefined;
  #joined = false;
  #closing: Promise<void> | undefined;

  constructor(kafka: Kafka, settings: GroupReaderSettings) {
    this.#settings = settings;
    this.#consumer = kafka.consumer({ ...settings.consumer, groupId: settings.groupId });
  }

  /** The kafkajs consumer (for instrumentation; do not commit or seek through it). */
  get consumer(): Consumer {
    return this.#consumer;
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
    consumer.on(consumer.events.GROUP_JOIN, () => {
      // a new generation: positions of the old assignment are the old owner's business now
      this.#offsets = new Map();
      this.#joined = true;
      resolveJoin();
    });
    consumer.on(consumer.events.REBALANCING, () => {
      // Commit what is settled before the partitions move (kafkajs does not wait for it; a commit
      // only ever covers settled records, so it is safe even if it lands after the move).
      if (this.#state === 'running' || this.#state === 'stopped') this.#commitSoon().catch(() => {});
    });
    consumer.on(consumer.events.CRASH, (event) => {
      if (event.payload.restart || this.#state === 'closed' || this.#state === 'aborted') return;
      if (!this.#joined) rejectJoin(event.payload.error);
      else this.#settings.onError(event.payload.error);
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

  #running(payload: Pick<EachBatchPayload, 'isRunning' | 'isStale'>): boolean {
    return this.#state === 'running' && payload.isRunning() && !payload.isStale();
  }

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat } = payload;
    const { topic, partition } = batch;
    const key = `${topic}\u0000${partition}`;
    for (const record of batch.messages) {
      if (!this.#running(payload)) {
        if (this.#state === 'stopped') this.#pauseAll();
        return;
      }
      const due = this.#settings.notBefore?.(topic, record);
      if (due !== undefined && due > Date.now()) {
        this.#pauseUntil(topic, partition, due);
        return;
      }
      while (this.#inFlight >= this.#settings.prefetch) {
        await this.#capacity();
        if (!this.#running(payload)) return;
        await heartbeat(); // throws when the group rebalances: kafkajs rejoins, this batch is dropped
      }
      if (!this.#running(payload)) return; // stopped while waiting for the heartbeat
      let offsets = this.#offsets.get(key);
      if (!offsets) {
        offsets = new PartitionOffsets();
        this.#offsets.set(key, offsets);
      }
      const offset = Number(record.offset);
      offsets.handed(offset);
      resolveOffset(record.offset);
      this.#inFlight++;
      this.#settings.deliver(topic, partition, record, this.#handle(offsets, offset));
    }
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

  #handle(offsets: PartitionOffsets, offset: number): RecordHandle {
    let settled = false;
    const release = () => {
      settled = true;
      this.#inFlight--;
      this.#wake();
    };
    return {
      done: () => {
        if (settled) return Promise.resolve();
        release();
        offsets.done(offset);
        return this.#commitSoon();
      },
      giveBack: () => {
        if (!settled) release();
      },
    };
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
    const commits: { topic: string; partition: number; offset: number; offsets: PartitionOffsets }[] = [];
    for (const [key, offsets] of this.#offsets) {
      const offset = offsets.pending();
      if (offset === undefined) continue;
      const [topic, partition] = key.split('\u0000') as [string, string];
      commits.push({ topic, partition: Number(partition), offset, offsets });
    }
    if (commits.length === 0) return;
    await this.#consumer.commitOffsets(
      commits.map(({ topic, partition, offset }) => ({ topic, partition, offset: String(offset) })),
    );
    for (const { offsets, offset } of commits) offsets.committed(offset);
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
