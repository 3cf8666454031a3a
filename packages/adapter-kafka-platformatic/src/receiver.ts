import type { ReadRecord } from '@carrier/adapter-kafka/driver-kit';
import {
  type CommittedOffsets,
  OffsetCommits,
  type PartitionOffsets,
  REBALANCE_MARGIN_MS,
  type RecordHandle,
  TRANSPORT,
} from '@carrier/adapter-kafka/driver-kit';
import { CarrierError, type ReceiveCall } from '@carrier/core';
import { asError, withDeadline } from '@carrier/core/kit';
import {
  Consumer,
  type ConsumerGroupJoinPayload,
  kGetApi,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka';
import type { ClientOptions } from './client-options.js';
import { GroupOffsets } from './group-offsets.js';
import { toRead } from './records.js';

/** Group settings from the URL (see adapter-kafka's `KafkaUrlOptions`). */
export interface GroupTimings {
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly maxWaitTimeMs: number;
}

/** Settings of one {@link Receiver} (as adapter-kafka's receiver). */
export interface ReceiverSettings {
  readonly client: ClientOptions;
  readonly timings: GroupTimings;
  readonly groupId: string;
  /** Topics to read; a partition without a committed offset is read from its start. */
  readonly topics: readonly string[];
  /** Most records handed out (or waiting to be due) and not yet done or given back. */
  readonly prefetch: number;
  /** Longest `start()` waits for the first group join, in ms. */
  readonly joinTimeoutMs: number;
  /** Record delivery counts in the commit metadata before handing records out (a crash counts). */
  readonly countDeliveries: boolean;
  /** For delayed records: the time (ms since the epoch) before which `record` must not be handed out. */
  readonly notBefore?: ((topic: string, record: ReadRecord) => number | undefined) | undefined;
  readonly onReceive?: (() => ReceiveCall) | undefined;
  /** Hand one record over. Must not throw. */
  readonly deliver: (topic: string, partition: number, record: ReadRecord, handle: RecordHandle) => void;
  readonly onError: (error: Error) => void;
}

type State = 'running' | 'stopped' | 'closed' | 'aborted';

interface InFlight {
  readonly key: string;
  readonly offsets: PartitionOffsets;
  readonly offset: number;
  readonly record: ReadRecord;
  readonly lease: AbortController;
}

/** One partition's records read and not yet handed out, and whether its worker runs. */
interface Lane {
  readonly topic: string;
  readonly partition: number;
  readonly queue: ReadRecord[];
  running: boolean;
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** How long after its stream closed (a fetch failed) a running receiver opens it again, in ms. */
const REOPEN_MS = 1_000;

/** How long after a failed hand-out (its delivery-count commit failed) a lane tries again, in ms. */
const RETRY_LANE_MS = 500;

/** A protocol API as @platformatic/kafka's clients call it: arguments, then a node-style callback. */
type ApiCall = (...args: unknown[]) => void;
type GetApi = (name: string, callback: (error: Error | null, api?: ApiCall) => void) => void;

/** Whether `error` is the coordinator's REBALANCE_IN_PROGRESS (@platformatic/kafka's protocol error shape). */
function rebalancing(error: unknown): boolean {
  const e = error as { findBy?: (property: string, value: unknown) => unknown } | null;
  return Boolean(e?.findBy?.('rebalanceInProgress', true));
}

/**
 * Makes `consumer` run `hold` (with a function that sends one more heartbeat) before it acts on a
 * heartbeat answered REBALANCE_IN_PROGRESS, that is before it rejoins the group and so gives its
 * partitions up. @platformatic/kafka 1.35 has no such hook: the heartbeat API it looks up through
 * its exported `kGetApi` is wrapped, on this consumer only.
 */
function holdBeforeRejoin(consumer: Consumer, hold: (heartbeat: () => void) => Promise<void>): void {
  const target = consumer as unknown as Record<typeof kGetApi, GetApi>;
  const getApi = target[kGetApi].bind(consumer);
  target[kGetApi] = (name, callback) =>
    getApi(name, (error, api) => {
      if (error || name !== 'Heartbeat' || api === undefined) {
        callback(error, api);
        return;
      }
      const wrapped: ApiCall = (...args) => {
        const done = args.pop() as (error: unknown, response?: unknown) => void;
        api(...args, (failure: unknown, response?: unknown) => {
          if (!rebalancing(failure)) {
            done(failure, response);
            return;
          }
          // "rebalance in progress" is the expected answer to these: they keep the session alive
          const heartbeat = () => api(...args, () => {});
          hold(heartbeat).then(
            () => done(failure, response),
            () => done(failure, response),
          );
        });
      };
      callback(null, Object.assign(wrapped, api));
    });
}

/**
 * The receive loop of one subscription on @platformatic/kafka: one consumer in one consumer group,
 * its messages stream in `committed` mode (a partition without a committed offset starts at its
 * earliest record), auto-commit off. Flow control, offsets and delivery counts are adapter-kafka's
 * (`PartitionOffsets`, `OffsetCommits`: commits only up to the first record not done, counts in
 * the commit metadata, written through {@link GroupOffsets}). Each partition is handed out in order
 * by its own lane; a delayed record (retry topic) holds its lane until due; the stream is paused
 * while `prefetch` records are outstanding.
 *
 * Rebalances: @platformatic/kafka rejoins by itself and has no hook before it gives partitions up;
 * at each join the leases of records in flight on partitions this member lost are aborted
 * (`LEASE_LOST`) and their commits are dropped (the next owner reads them again). A settlement whose
 * write failed puts the record back at the head of its lane (the stream cannot seek).
 */
export class Receiver {
  readonly #settings: ReceiverSettings;
  readonly #consumer: Consumer;
  readonly #groupOffsets: GroupOffsets;
  readonly #commits: OffsetCommits;
  readonly #inFlight = new Set<InFlight>();
  readonly #lanes = new Map<string, Lane>();
  #assigned = new Set<string>();
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  #state: State = 'running';
  #waiting = 0;
  /** Set from a rebalance's start until the join that ends it: nothing more is handed out. */
  #rebalancing = false;
  #lastTrouble = 0;
  #closing: Promise<void> | undefined;

  constructor(settings: ReceiverSettings) {
    this.#settings = settings;
    const { timings } = settings;
    this.#consumer = new Consumer({
      ...settings.client,
      groupId: settings.groupId,
      sessionTimeout: timings.sessionTimeoutMs,
      heartbeatInterval: timings.heartbeatIntervalMs,
      rebalanceTimeout: timings.rebalanceTimeoutMs,
      maxWaitTime: timings.maxWaitTimeMs,
      autocommit: false,
      autocreateTopics: false,
    });
    this.#groupOffsets = new GroupOffsets(this.#consumer, settings.client);
    this.#commits = new OffsetCommits(
      { commitOffsets: (commits) => this.#groupOffsets.commit(commits) },
      () => this.#state === 'aborted',
    );
    holdBeforeRejoin(this.#consumer, (heartbeat) => this.#beforeRejoin(heartbeat));
    // a failed rejoin is emitted as 'error' (thrown without a listener): the stream reopens
    this.#consumer.on('error', (error: Error) => this.#trouble(error));
  }

  /**
   * Runs before this member rejoins at a rebalance: stops handing out, waits for the records in
   * flight to be settled (heartbeating), commits, and only then lets the rejoin give the partitions
   * up. Past the rebalance timeout less {@link REBALANCE_MARGIN_MS} the leases of what is still in
   * flight are aborted (`LEASE_LOST`): the coordinator is about to hand the partitions to another member.
   */
  async #beforeRejoin(heartbeat: () => void): Promise<void> {
    if (!this.#holding()) return;
    this.#rebalancing = true;
    const { rebalanceTimeoutMs, heartbeatIntervalMs } = this.#settings.timings;
    const deadline = Date.now() + Math.max(0, rebalanceTimeoutMs - REBALANCE_MARGIN_MS);
    let lastBeat = Date.now();
    while (this.#inFlight.size > 0 && Date.now() < deadline && this.#holding()) {
      if (Date.now() - lastBeat >= heartbeatIntervalMs) {
        lastBeat = Date.now();
        heartbeat();
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!this.#holding()) return;
    try {
      await this.#commits.soon();
    } catch {
      // the group moved on: what was not committed is read again by the next owner
    }
    if (this.#inFlight.size === 0) return;
    const lost = [...this.#inFlight];
    const error = new CarrierError(
      'LEASE_LOST',
      `kafka group ${this.#settings.groupId} gave up partitions with ${lost.length} deliveries unsettled: its handlers ran past the rebalance timeout (${rebalanceTimeoutMs} ms, less ${REBALANCE_MARGIN_MS} ms); they will be redelivered`,
      { transport: TRANSPORT },
    );
    for (const entry of lost) {
      this.#inFlight.delete(entry);
      entry.lease.abort(error);
    }
  }

  /** The @platformatic/kafka consumer (native access). */
  get consumer(): Consumer {
    return this.#consumer;
  }

  /** Joins the group and starts reading; resolves after the first join. */
  async start(): Promise<void> {
    const { groupId, joinTimeoutMs } = this.#settings;
    let joined!: () => void;
    const first = new Promise<void>((resolve) => {
      joined = resolve;
    });
    this.#consumer.on('consumer:group:join', (payload) => {
      this.#joined(payload);
      joined();
    });
    try {
      await withDeadline({ what: `group join of ${groupId}`, ms: joinTimeoutMs }, async () => {
        await this.#open();
        await first;
      });
    } catch (error) {
      this.#state = 'aborted';
      await this.#shutDown(true);
      throw error;
    }
  }

  /**
   * Opens the messages stream (joining the group when this member is not in it). @platformatic/kafka
   * destroys the stream at any fetch or metadata failure (a broker restart, a lost connection):
   * while the receiver runs, a closed stream is opened again after {@link REOPEN_MS}.
   */
  async #open(): Promise<void> {
    const { topics, timings } = this.#settings;
    const stream = await this.#consumer.consume({
      topics: [...topics],
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: false,
      maxWaitTime: timings.maxWaitTimeMs,
      sessionTimeout: timings.sessionTimeoutMs,
      heartbeatInterval: timings.heartbeatIntervalMs,
      rebalanceTimeout: timings.rebalanceTimeoutMs,
    });
    this.#stream = stream;
    stream.on('data', (message: Message<Buffer, Buffer, Buffer, Buffer>) => this.#received(message));
    stream.on('error', (error: Error) => this.#trouble(error));
    stream.on('close', () => {
      if (this.#stream !== stream) return;
      this.#stream = undefined;
      this.#reopen();
    });
    // a rejoin held by #beforeRejoin may have failed (no join followed): the new stream is the group's now
    this.#rebalancing = false;
    this.#flow();
    this.#restartLanes();
  }

  #reopen(): void {
    if (!this.#holding()) return;
    setTimeout(() => {
      if (!this.#holding() || this.#stream !== undefined) return;
      this.#open().catch((error: unknown) => {
        this.#trouble(asError(error));
        this.#reopen();
      });
    }, REOPEN_MS);
  }

  /** Reports connection trouble to onError, at most once per second (a broker down fails every fetch). */
  #trouble(error: Error): void {
    if (!this.#holding()) return;
    const now = Date.now();
    if (now - this.#lastTrouble < 1_000) return;
    this.#lastTrouble = now;
    this.#settings.onError(error);
  }

  /** A group join: new generation; the leases of records in flight on lost partitions are aborted. */
  #joined(payload: ConsumerGroupJoinPayload): void {
    const assignment = new Map<string, number[]>();
    const assigned = new Set<string>();
    for (const { topic, partitions } of payload.assignments ?? []) {
      assignment.set(topic, [...partitions]);
      for (const p of partitions) assigned.add(key(topic, p));
    }
    const lost = [...this.#inFlight].filter((entry) => !assigned.has(entry.key));
    if (lost.length > 0) {
      const error = new CarrierError(
        'LEASE_LOST',
        `kafka group ${this.#settings.groupId} gave up partitions with ${lost.length} deliveries unsettled (rebalance); they will be redelivered`,
        { transport: TRANSPORT },
      );
      for (const entry of lost) {
        this.#inFlight.delete(entry);
        entry.lease.abort(error);
      }
    }
    for (const [k, lane] of this.#lanes) {
      if (assigned.has(k)) continue;
      this.#waiting -= lane.queue.length; // the next owner reads them
      lane.queue.length = 0;
    }
    const ledgers = this.#groupOffsets.committed(assignment).catch(() => new Map() as CommittedOffsets); // counts start from the record headers again
    this.#commits.newGeneration(ledgers, new Set([...this.#assigned].filter((k) => assigned.has(k))));
    this.#assigned = assigned;
    this.#rebalancing = false;
    this.#flow();
    this.#restartLanes();
  }

  #received(message: Message<Buffer, Buffer, Buffer, Buffer>): void {
    const k = key(message.topic, message.partition);
    if (!this.#assigned.has(k) || this.#state !== 'running') return; // the next owner reads it
    let lane = this.#lanes.get(k);
    if (!lane) {
      lane = { topic: message.topic, partition: message.partition, queue: [], running: false };
      this.#lanes.set(k, lane);
    }
    lane.queue.push(toRead(message));
    this.#waiting++;
    this.#flow();
    if (!lane.running) void this.#run(lane);
  }

  /** Pauses the stream while `prefetch` records are outstanding, resumes it below. */
  #flow(): void {
    const stream = this.#stream;
    if (!stream) return;
    const full = this.#inFlight.size + this.#waiting >= this.#settings.prefetch;
    if ((full || this.#state !== 'running') && !stream.isPaused()) stream.pause();
    else if (!full && this.#state === 'running' && stream.isPaused()) stream.resume();
  }

  /** Hands a lane's records out in order, each chunk after its delivery counts are committed. */
  async #run(lane: Lane): Promise<void> {
    lane.running = true;
    try {
      while (lane.queue.length > 0 && this.#state === 'running' && !this.#rebalancing) {
        const { topic, partition } = lane;
        const offsets = await this.#commits.partition(topic, partition);
        const chunk: { record: ReadRecord; offset: number; previous: number }[] = [];
        while (lane.queue.length > 0) {
          const record = lane.queue[0]!;
          const offset = Number(record.offset);
          const plan = offsets.plan(offset);
          if (!plan.deliver) {
            lane.queue.shift();
            this.#waiting--;
            offsets.skipped(offset);
            continue;
          }
          const due = this.#settings.notBefore?.(topic, record);
          if (due !== undefined && due > Date.now()) {
            if (chunk.length > 0) break;
            await this.#sleep(due - Date.now());
            if (this.#state !== 'running' || lane.queue[0] !== record) break;
            continue;
          }
          lane.queue.shift();
          this.#waiting--;
          chunk.push({ record, offset, previous: plan.previous });
        }
        if (chunk.length > 0) await this.#handOut(lane, offsets, chunk);
      }
    } catch (error) {
      this.#trouble(asError(error));
      // its records are back in the lane (the delivery-count commit failed: a broker down?): try
      // again later, as nothing else may wake the lane (the stream is paused while it is full)
      setTimeout(() => this.#restartLanes(), RETRY_LANE_MS);
    } finally {
      lane.running = false;
      this.#flow();
    }
  }

  /** Runs every lane that has records and no worker (after a join, a reopen, a failed hand-out). */
  #restartLanes(): void {
    if (this.#state !== 'running' || this.#rebalancing) return;
    for (const lane of this.#lanes.values()) if (lane.queue.length > 0 && !lane.running) void this.#run(lane);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, Math.min(ms, 1_000)).unref?.());
  }

  async #handOut(
    lane: Lane,
    offsets: PartitionOffsets,
    chunk: { record: ReadRecord; offset: number; previous: number }[],
  ): Promise<void> {
    const { topic, partition } = lane;
    const k = key(topic, partition);
    const call = this.#settings.onReceive?.();
    const mark = offsets.mark();
    const handed = chunk.map(({ offset, previous, record }) => {
      offsets.handed(offset, previous + 1);
      const entry: InFlight = { key: k, offsets, offset, record, lease: new AbortController() };
      this.#inFlight.add(entry);
      return entry;
    });
    if (this.#settings.countDeliveries) {
      try {
        await this.#commits.within(Math.max(1_000, Math.floor(this.#settings.timings.sessionTimeoutMs / 3)));
      } catch (error) {
        for (const entry of handed) {
          this.#inFlight.delete(entry);
          offsets.done(entry.offset);
        }
        offsets.rewind(mark);
        // read again: back to the head of the lane, in order
        lane.queue.unshift(...chunk.map((c) => c.record));
        this.#waiting += chunk.length;
        call?.end(0, error);
        throw error;
      }
    }
    const handOut = () =>
      chunk.forEach(({ record, previous }, i) => {
        this.#settings.deliver(topic, partition, record, this.#handle(lane, handed[i]!, previous));
      });
    call?.end(chunk.length);
    if (call) call.handOut(handOut);
    else handOut();
  }

  #handle(lane: Lane, entry: InFlight, previousDeliveries: number): RecordHandle {
    const { offsets, offset } = entry;
    const finish = (): boolean => {
      if (!this.#inFlight.delete(entry)) return false;
      this.#flow();
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
        if (this.#state !== 'running' || !this.#assigned.has(entry.key)) return; // the next owner reads it
        // the stream cannot seek back: hand the record out again from memory, before what follows it
        lane.queue.unshift(entry.record);
        this.#waiting++;
        if (!lane.running) void this.#run(lane);
      },
    };
  }

  #holding(): boolean {
    return this.#state === 'running' || this.#state === 'stopped';
  }

  /** Stop handing out records; records already handed out stay settleable until `close()`. */
  async stop(): Promise<void> {
    if (this.#state !== 'running') return;
    this.#state = 'stopped';
    this.#flow();
  }

  /** Commit what is done, leave the group and disconnect. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#state === 'aborted') return;
    this.#state = 'stopped';
    this.#flow();
    try {
      await this.#commits.soon();
    } catch (error) {
      this.#settings.onError(asError(error));
    } finally {
      if ((this.#state as State) !== 'aborted') this.#state = 'closed';
      await this.#shutDown(false);
    }
  }

  /** Disconnect without committing anything more (a crash, as far as the group can tell). */
  async abort(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'aborted') return;
    this.#state = 'aborted';
    await this.#shutDown(true);
  }

  async #shutDown(force: boolean): Promise<void> {
    for (const lane of this.#lanes.values()) lane.queue.length = 0;
    this.#waiting = 0;
    await this.#stream?.close().catch(() => {});
    await new Promise<void>((resolve) => this.#consumer.close(force, () => resolve()));
    await this.#groupOffsets.close();
  }
}
