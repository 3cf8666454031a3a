import { CarrierError, type ReceiveCall } from '@carrier/core';
import { asError, withDeadline } from '@carrier/core/kit';
import type { Consumer, ConsumerConfig, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { OffsetCommits } from './commits.js';
import { TRANSPORT } from './errors.js';
import type { PartitionOffsets } from './offsets.js';
import { Pauses } from './pauses.js';
import { holdingAssigner, type RejoinContext } from './rejoin-hook.js';
import type { CommittedOffsets } from './topology.js';

/** Longest a receiver's `start()` (and a redrive) waits for the first group join, in ms. */
export const JOIN_TIMEOUT_MS = 60_000;

/**
 * How much earlier than the rebalance timeout a revoked partition stops waiting for its records:
 * the coordinator's timer started when the rebalance began, which this member notices up to a
 * heartbeat interval plus a fetch wait later, and the commit and JoinGroup need time too.
 */
export const REBALANCE_MARGIN_MS = 3_000;

/** What the receiver gives the code that turns a record into a delivery. */
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

/** Settings of one {@link Receiver}. */
export interface ReceiverSettings {
  readonly groupId: string;
  /** Topics to read; `fromBeginning` applies only to partitions without a committed offset. */
  readonly topics: readonly { readonly topic: string; readonly fromBeginning: boolean }[];
  /** Most records handed out and not yet done or given back. */
  readonly prefetch: number;
  readonly consumer: Omit<ConsumerConfig, 'groupId'>;
  /** Longest `start()` waits for the first group join, in ms. */
  readonly joinTimeoutMs: number;
  /**
   * The group's rebalance timeout in ms (also passed to kafkajs): a partition being revoked waits
   * this long, less {@link REBALANCE_MARGIN_MS}, for its records in flight to be settled.
   */
  readonly rebalanceTimeoutMs: number;
  /**
   * Record each record's delivery count in the commit metadata before handing it out (one commit
   * per handed-out chunk), so that a crash counts. Off for receivers whose deliveries have no attempt.
   */
  readonly countDeliveries: boolean;
  /** Reads the group's committed offsets and metadata of the assigned partitions (at each join). */
  readonly readCommitted: (
    assignment: Readonly<Record<string, readonly number[]>>,
  ) => Promise<CommittedOffsets>;
  /** For delayed records: the time (ms since the epoch) before which `record` must not be handed out. */
  readonly notBefore?: ((topic: string, record: KafkaMessage) => number | undefined) | undefined;
  /**
   * Telemetry (core's `onReceive`): each chunk of a fetched batch handed over is reported as one
   * receive, from the start of its handover (the delivery-count commit included) to its end.
   */
  readonly onReceive?: (() => ReceiveCall) | undefined;
  /** Hand one record over. Must not throw. */
  readonly deliver: (topic: string, partition: number, record: KafkaMessage, handle: RecordHandle) => void;
  /** A request of this consumer to `broker` (`host:port`) timed out. */
  readonly onRequestTimeout?: ((broker: string) => void) | undefined;
  /** Asynchronous failures (the consumer crashed for good, leases lost at a rebalance). */
  readonly onError: (error: Error) => void;
}

type State = 'running' | 'stopped' | 'closed' | 'aborted';

interface InFlight {
  readonly offsets: PartitionOffsets;
  readonly offset: number;
  readonly lease: AbortController;
}

/** A record read and about to be handed out, with its deliveries so far. */
interface Pending {
  readonly record: KafkaMessage;
  readonly offset: number;
  readonly previous: number;
}

/**
 * The receive loop of one subscription: one kafkajs consumer in one consumer group, with Carrier's
 * flow control: at most `prefetch` records are outstanding (the batch loop waits, heartbeating,
 * until one is done), offsets are committed per partition only up to the first record not yet
 * done, delayed records pause only their own partition until due. Auto-commit is off: only what
 * was done is ever committed.
 *
 * Rebalances: before this member rejoins (and so gives up its partitions) it waits for its records
 * in flight to be settled and commits them, up to the rebalance timeout less a margin; past that it
 * aborts their leases with `LEASE_LOST` (the next owner reads them again). Delivery counts
 * live in the commit metadata (see offsets.ts), so that a crash, an abort or a lost lease counts
 * as a delivery and a release does not.
 */
export class Receiver {
  readonly #settings: ReceiverSettings;
  readonly #consumer: Consumer;
  readonly #commits: OffsetCommits;
  #state: State = 'running';
  readonly #inFlight = new Set<InFlight>();
  readonly #wakers = new Set<() => void>();
  readonly #pauses: Pauses;
  #joined = false;
  #closing: Promise<void> | undefined;
  #lastTrouble = 0;

  constructor(kafka: Kafka, settings: ReceiverSettings) {
    this.#settings = settings;
    this.#consumer = kafka.consumer({
      ...settings.consumer,
      rebalanceTimeout: settings.rebalanceTimeoutMs,
      groupId: settings.groupId,
      partitionAssigners: [holdingAssigner((context) => this.#beforeRejoin(context))],
    });
    this.#commits = new OffsetCommits(this.#consumer, () => this.#state === 'aborted');
    const topics = settings.topics.map(({ topic }) => topic);
    this.#pauses = new Pauses(this.#consumer, topics, () => this.#state === 'running');
  }

  /** Connects, joins the group and starts fetching; resolves after the first join (partitions assigned). */
  async start(): Promise<void> {
    const consumer = this.#consumer;
    const joined = this.#listen();
    const { groupId, joinTimeoutMs } = this.#settings;
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
      await withDeadline({ what: `group join of ${groupId}`, ms: joinTimeoutMs }, () => joined);
    } catch (error) {
      this.#state = 'aborted';
      await consumer.disconnect().catch(() => {});
      throw error;
    }
  }

  /** Listens to the consumer's events; resolves at the first group join, rejects if it crashes before. */
  #listen(): Promise<void> {
    const consumer = this.#consumer;
    return new Promise<void>((resolve, reject) => {
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        const ledgers = this.#settings.readCommitted(event.payload.memberAssignment).catch(
          () => new Map() as CommittedOffsets, // without it counts start from the record headers again
        );
        this.#commits.newGeneration(ledgers);
        this.#joined = true;
        resolve();
      });
      consumer.on(consumer.events.CRASH, (event) => {
        if (this.#state === 'closed' || this.#state === 'aborted') return;
        if (event.payload.restart) {
          // kafkajs restarts the consumer by itself; the application hears of the trouble
          if (this.#joined) this.#trouble(event.payload.error);
          return;
        }
        if (!this.#joined) reject(event.payload.error);
        else this.#settings.onError(event.payload.error);
      });
      consumer.on(consumer.events.REQUEST_TIMEOUT, (event) => {
        if (this.#state !== 'running' && this.#state !== 'stopped') return;
        const { broker, apiName, pendingDuration } = event.payload;
        this.#settings.onRequestTimeout?.(broker);
        this.#trouble(
          new Error(`${apiName} request to broker ${broker} got no answer (${pendingDuration} ms)`),
        );
      });
    });
  }

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

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat } = payload;
    const { topic, partition } = batch;
    const offsets = await this.#commits.partition(topic, partition);
    const chunk: Pending[] = [];
    const flush = () => this.#handOut(payload, offsets, chunk);
    for (const record of batch.messages) {
      if (!this.#running(payload)) {
        await flush();
        if (this.#state === 'stopped') this.#pauses.all();
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
        this.#pauses.until(topic, partition, due);
        return;
      }
      while (this.#inFlight.size + chunk.length >= this.#settings.prefetch) {
        await flush();
        // records settled while the flush ran (a handler that settles at once) already woke no one:
        // wait only if the receiver is still full, or it would sleep a heartbeat interval for nothing
        if (this.#inFlight.size >= this.#settings.prefetch) await this.#capacity();
        if (!this.#running(payload)) return;
        await heartbeat(); // throws when the group rebalances: kafkajs rejoins (after #beforeRejoin)
      }
      if (!this.#running(payload)) return; // stopped while waiting for the heartbeat
      chunk.push({ record, offset, previous: plan.previous });
    }
    await flush();
  }

  /**
   * Hands the records of `chunk` out (emptying it): marks them in flight, makes their delivery
   * counts durable first (when counting), then passes each to `deliver`.
   */
  async #handOut(payload: EachBatchPayload, offsets: PartitionOffsets, chunk: Pending[]): Promise<void> {
    if (chunk.length === 0) return;
    const items = chunk.splice(0);
    const call = this.#settings.onReceive?.();
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
        await this.#commits.within(
          Math.max(1_000, Math.floor((this.#settings.consumer.sessionTimeout ?? 10_000) / 3)),
        );
      } catch (error) {
        for (const entry of handed) {
          this.#inFlight.delete(entry);
          offsets.done(entry.offset);
        }
        offsets.rewind(mark);
        this.#wake();
        call?.end(0, error);
        throw error;
      }
    }
    const { topic, partition } = payload.batch;
    const handOut = () =>
      items.forEach(({ record }, i) => {
        payload.resolveOffset(record.offset);
        this.#settings.deliver(topic, partition, record, this.#handle(handed[i]!, items[i]!.previous));
      });
    call?.end(items.length);
    if (call) call.handOut(handOut);
    else handOut();
  }

  /** Resolves when a record is done or given back, when the receiver stops, or after a heartbeat interval. */
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
        return this.#commits.soon();
      },
      release: () => {
        if (!finish()) return Promise.resolve();
        offsets.released(offset);
        return this.#commits.soon();
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
    const where = this.#commits.locate(offsets);
    if (!where) return; // an older generation: the partition's next owner reads it again
    const first = offsets.firstAgain();
    if (first === undefined) return;
    try {
      this.#consumer.seek({ topic: where.topic, partition: where.partition, offset: String(first) });
    } catch {
      // not running: the record stays uncommitted, read again after the restart or by the next owner
    }
  }

  /**
   * Runs before every (re)join of the group: waits for the records in flight to be settled
   * (heartbeating, so the session stays alive), commits, and only then lets the rejoin give the
   * partitions up. Past the rebalance timeout (less a margin) the leases of what is still in flight
   * are aborted: the coordinator is about to hand the partitions to another member.
   */
  async #beforeRejoin(context: RejoinContext): Promise<void> {
    if (!this.#joined || this.#state === 'aborted' || this.#state === 'closed') return;
    if (context.memberId !== null) await this.#drain(context);
    if (!this.#holding()) return;
    try {
      await this.#commits.soon();
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
      { transport: TRANSPORT },
    );
    // core reports LEASE_LOST to onError once per delivery (and cancels its handler): not here too
    for (const entry of lost) entry.lease.abort(error);
  }

  /** Waits, heartbeating, until nothing is in flight, up to the rebalance timeout less the margin. */
  async #drain(context: RejoinContext): Promise<void> {
    const deadline = Date.now() + Math.max(0, this.#settings.rebalanceTimeoutMs - REBALANCE_MARGIN_MS);
    const interval = Math.max(50, this.#settings.consumer.heartbeatInterval ?? 1_000);
    let lastBeat = 0;
    while (this.#inFlight.size > 0 && Date.now() < deadline && this.#holding()) {
      if (Date.now() - lastBeat >= interval) {
        lastBeat = Date.now();
        void context.heartbeat().catch(() => {}); // "rebalance in progress" is the expected answer
      }
      await this.#capacity();
    }
  }

  #holding(): boolean {
    return this.#state === 'running' || this.#state === 'stopped';
  }

  /** The kafkajs consumer (native access). */
  get consumer(): Consumer {
    return this.#consumer;
  }

  /** Stop handing out records; records already handed out stay settleable (and committable) until `close()`. */
  async stop(): Promise<void> {
    if (this.#state !== 'running') return;
    this.#state = 'stopped';
    this.#wake();
    this.#pauses.all();
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
    this.#pauses.all();
    try {
      await this.#commits.soon();
    } catch (error) {
      this.#settings.onError(asError(error));
    } finally {
      if ((this.#state as State) !== 'aborted') this.#state = 'closed'; // abort() may have run meanwhile
      this.#pauses.clear();
      this.#wake();
      await this.#consumer.disconnect().catch(() => {});
    }
  }

  /** Disconnect without committing anything more (a crash, as far as the group can tell). */
  async abort(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'aborted') return;
    this.#state = 'aborted';
    this.#wake();
    this.#pauses.clear();
    await this.#consumer.disconnect().catch(() => {});
  }
}
