import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { CarrierError, type ReceiveCall, type TransportSubscription } from '@carrier/core';
import { type BackoffOptions, DeadlineError, exponentialDelay } from '@carrier/core/kit';
import { EntryBatcher, MAX_BATCH_ENTRIES } from './batcher.js';
import { awsError, closedError, errorName, isAbort, TRANSPORT } from './errors.js';

/** Whether a failed call says the endpoint is unreachable or silent (not a refusal by the service). */
function isConnectionFailure(error: unknown): boolean {
  return error instanceof DeadlineError || /^E[A-Z]+$/.test(errorName(error));
}

/** Longest total visibility of one receive (12 hours), in seconds. */
const MAX_VISIBILITY_SECONDS = 43_200;
/** Longest retry delay: the 12-hour visibility limit, less one hour for the handler that ran before. */
export const SQS_MAX_DELAY_MS = (MAX_VISIBILITY_SECONDS - 3_600) * 1_000;
/**
 * Pause after the n-th failed receive in a row: 500 ms doubling up to 5 s, no jitter (a settlement
 * or stop() ends it early).
 */
const RECEIVE_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 5_000, jitter: 'none' };
/** A receive outage is reported again after this many failed receives in a row. */
const REPORT_EVERY_FAILURES = 30;

/** One received, unsettled message. */
export interface Lease {
  readonly message: Message;
  readonly receiptHandle: string;
  /** `performance.now()` when the receive that brought it was sent (its visibility runs from then at the latest). */
  readonly receivedAt: number;
  settled: boolean;
  /** The visibility extension in flight for it, if any; settlements wait for it. */
  heartbeat: Promise<void> | undefined;
  /** `performance.now()` when the last successful visibility extension (or the receive) was sent. */
  lastExtended: number;
  /** Aborted (`LEASE_LOST`) once the visibility ran out unrenewed before settlement. */
  readonly lost: AbortController;
}

/** What a {@link Receiver} consumes and what the transport gives it. */
export interface ReceiverOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly prefetch: number;
  readonly visibilityTimeoutSeconds: number;
  readonly waitTimeSeconds: number;
  /**
   * Poll without waiting, and after an empty poll wait for a settlement, stop() or one second.
   * Used for FIFO queues and dead-letter queues: a long poll left running after stop() (or cancelled
   * by close, which the server does not notice) may take a message that then stays invisible for the
   * visibility timeout and counts a receive — on FIFO queues Carrier cannot re-send a copy without
   * breaking the key's order, and dead letters read and given back must be readable again at once.
   * On FIFO queues a long poll started while a message group is in flight may also not see the
   * group freed by a later delete (moto keeps it blocked for the whole wait).
   */
  readonly shortPoll: boolean;
  /** Hand one lease to the sink (only while the receiver runs). */
  readonly deliver: (lease: Lease) => void;
  /**
   * Put back a message unprocessed (received after stop(), released, or left at close), visible at
   * once and without it counting as an attempt where possible.
   */
  readonly giveBack: (lease: Lease) => Promise<void>;
  readonly onError: (error: Error) => void;
  /** Telemetry: each ReceiveMessage is reported (core's `onReceive`), if given. */
  readonly onReceive?: (() => ReceiveCall) | undefined;
  /** Registers a receive's AbortController so that the transport can cancel it on close or abort. */
  readonly track: (controller: AbortController, longPoll: boolean) => () => void;
}

/**
 * The receive loop of one subscription: consumes one SQS queue with `ceil(prefetch / 10)` polling loops that never hold more than
 * `prefetch` unsettled messages together, visibility heartbeats for every unsettled message,
 * batched deletes and visibility changes.
 *
 * `stop()` returns at once and never calls the sink again; a receive still in flight is left to
 * finish (cancelling it would not end it at the server, which would hand its messages to a dead
 * connection, where they would stay invisible for the visibility timeout and count a receive that
 * no handler saw); what it brings is given back at once. `close()` waits for those receives, so it
 * takes up to `waitTimeSeconds`. Only `abort()` (a crash) leaves them to the server.
 *
 * Every receive has a deadline (its long-poll wait plus the request timeout, see the transport):
 * one that passes is reported to `onError` as `CONNECTION` and the loop polls again after a backoff,
 * so consumption resumes by itself once the endpoint answers again.
 */
export class Receiver implements TransportSubscription {
  readonly #o: ReceiverOptions;
  readonly #leases = new Set<Lease>();
  readonly #deleter: EntryBatcher<string>;
  readonly #visibility: EntryBatcher<{ handle: string; seconds: number }>;
  readonly #loops: Promise<void>[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #pendingGiveBacks = new Set<Promise<void>>();
  #reserved = 0;
  #stopped = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #errorStreak = 0;
  /** An outage was reported to onError and no receive has succeeded since. */
  #outageReported = false;

  constructor(options: ReceiverOptions) {
    this.#o = options;
    const { sqs, queueUrl } = options;
    this.#deleter = new EntryBatcher(async (handles) => {
      const out = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: handles.map((h, i) => ({ Id: String(i), ReceiptHandle: h })),
        }),
      );
      return handles.map((_, i) => failure(out.Failed, i, 'DeleteMessage'));
    });
    this.#visibility = new EntryBatcher(async (entries) => {
      const out = await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: entries.map((e, i) => ({
            Id: String(i),
            ReceiptHandle: e.handle,
            VisibilityTimeout: e.seconds,
          })),
        }),
      );
      return entries.map((_, i) => failure(out.Failed, i, 'ChangeMessageVisibility'));
    });
  }

  start(): void {
    const pollers = Math.max(1, Math.ceil(this.#o.prefetch / MAX_BATCH_ENTRIES));
    for (let i = 0; i < pollers; i++) this.#loops.push(this.#loop());
    const intervalMs = Math.max(1_000, (this.#o.visibilityTimeoutSeconds * 1_000) / 3);
    this.#heartbeat = setInterval(() => this.#extend(intervalMs), intervalMs);
    this.#heartbeat.unref();
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  #waitForCapacity(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        if (timer) clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      this.#waiters.add(done);
    });
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      const n = Math.min(MAX_BATCH_ENTRIES, this.#o.prefetch - this.#leases.size - this.#reserved);
      if (n <= 0) {
        await this.#waitForCapacity();
        continue;
      }
      // the visibility timeout runs from when the server took the messages, somewhere between the
      // request and the response: count it from the request, so a slow answer never makes the first
      // heartbeat come after the visibility ran out
      const requestedAt = performance.now();
      const call = this.#o.onReceive?.();
      const messages = await this.#receive(n, call);
      if (messages === 'aborted') return;
      if (messages === 'failed') {
        if (!this.#stopped) await this.#waitForCapacity(exponentialDelay(RECEIVE_BACKOFF, this.#errorStreak));
        continue;
      }
      if (this.#o.shortPoll && messages.length === 0 && !this.#stopped) await this.#waitForCapacity(1_000);
      const handOut = () => {
        for (const message of messages) this.#handOut(message, requestedAt);
      };
      if (call) call.handOut(handOut);
      else handOut();
    }
  }

  /**
   * One ReceiveMessage of up to `n` messages (reserved from the prefetch while it runs), reported to
   * `call` (telemetry). A failure is reported to onError (the first of an outage, then every 30th in
   * a row).
   */
  async #receive(n: number, call: ReceiveCall | undefined): Promise<Message[] | 'aborted' | 'failed'> {
    const o = this.#o;
    this.#reserved += n;
    const controller = new AbortController();
    const untrack = o.track(controller, !o.shortPoll);
    try {
      const out = await o.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: o.queueUrl,
          MaxNumberOfMessages: n,
          WaitTimeSeconds: o.shortPoll ? 0 : o.waitTimeSeconds,
          VisibilityTimeout: o.visibilityTimeoutSeconds,
          MessageAttributeNames: ['All'],
          // the first receive tells a hold of a delayed message from an attempt (wire.ts)
          MessageSystemAttributeNames: [
            'ApproximateReceiveCount',
            'SentTimestamp',
            'ApproximateFirstReceiveTimestamp',
          ],
        }),
        { abortSignal: controller.signal },
      );
      this.#errorStreak = 0;
      this.#outageReported = false;
      call?.end(out.Messages?.length ?? 0);
      return out.Messages ?? [];
    } catch (error) {
      if (isAbort(error) || this.#closed) {
        call?.end(0);
        return 'aborted';
      }
      call?.end(0, awsError('SQS ReceiveMessage', error));
      this.#errorStreak++;
      const first = this.#errorStreak === 1 && !this.#outageReported;
      if (first || this.#errorStreak % REPORT_EVERY_FAILURES === 0) {
        this.#outageReported = true;
        o.onError(awsError(`SQS ReceiveMessage (attempt ${this.#errorStreak})`, error));
      }
      return 'failed';
    } finally {
      this.#reserved -= n;
      untrack();
    }
  }

  /** A received message: to the sink as a lease while running, else given back at once. */
  #handOut(message: Message, requestedAt: number): void {
    if (!message.ReceiptHandle) return;
    const lease: Lease = {
      message,
      receiptHandle: message.ReceiptHandle,
      receivedAt: requestedAt,
      settled: false,
      heartbeat: undefined,
      lastExtended: requestedAt,
      lost: new AbortController(),
    };
    if (this.#stopped) {
      lease.settled = true;
      const p = this.#o
        .giveBack(lease)
        .catch((error: unknown) =>
          this.#o.onError(awsError('giving back a message received during shutdown', error)),
        )
        .finally(() => this.#pendingGiveBacks.delete(p));
      this.#pendingGiveBacks.add(p);
    } else {
      this.#leases.add(lease);
      this.#o.deliver(lease);
    }
  }

  #extend(intervalMs: number): void {
    const now = performance.now();
    const seconds = this.#o.visibilityTimeoutSeconds;
    for (const lease of this.#leases) {
      if (!lease.settled && !lease.lost.signal.aborted && now - lease.lastExtended >= seconds * 1_000) {
        // the heartbeats failed for a whole visibility timeout: SQS may be handing it to another member
        lease.lost.abort(
          new CarrierError(
            'LEASE_LOST',
            `visibility of message ${lease.message.MessageId ?? '?'} ran out: heartbeats failed for ${seconds} s`,
            { transport: TRANSPORT },
          ),
        );
      }
      if (lease.settled || lease.heartbeat || now - lease.lastExtended < intervalMs * 0.9) continue;
      // never past the 12-hour limit counted from the receive
      const left = MAX_VISIBILITY_SECONDS - Math.ceil((now - lease.receivedAt) / 1_000) - 1;
      if (left <= 0) continue;
      lease.heartbeat = this.#visibility
        .add({ handle: lease.receiptHandle, seconds: Math.min(seconds, left) })
        .then(
          () => {
            lease.lastExtended = now;
          },
          (error: unknown) => {
            if (lease.settled || this.#closed) return;
            if (isConnectionFailure(error)) this.#reportOutage('SQS visibility heartbeat', error);
            else this.#o.onError(awsError('SQS visibility heartbeat', error));
          },
        )
        .finally(() => {
          lease.heartbeat = undefined;
        });
    }
  }

  /**
   * Settle a lease once: marks it settled (no more heartbeats), waits for a heartbeat in flight so it
   * cannot override the settlement, runs `action`, then frees its prefetch slot. With `messageId`
   * (ack, retry, dead letter), a visibility that may have run out first is reported as a lost lease.
   */
  async settle(lease: Lease, action: () => Promise<void>, messageId?: string): Promise<void> {
    if (lease.settled)
      throw new CarrierError('INVALID_ARGUMENT', 'delivery already settled', { transport: TRANSPORT });
    if (this.#closed) throw closedError();
    lease.settled = true;
    try {
      if (lease.heartbeat) await lease.heartbeat;
      if (messageId !== undefined) this.#checkVisibility(lease, messageId);
      await action();
    } finally {
      this.#leases.delete(lease);
      this.#wake();
    }
  }

  /**
   * Before a settlement: if no receive or heartbeat confirmed the message's visibility within the
   * last visibility timeout (heartbeats late, e.g. under load), it may have become visible and gone
   * to another member meanwhile (SQS docs, "Amazon SQS visibility timeout"): the lease is reported
   * lost (`LEASE_LOST` to onError, naming the message), so that a second handling has its cause on
   * record. The settlement still runs.
   */
  #checkVisibility(lease: Lease, messageId: string): void {
    const seconds = this.#o.visibilityTimeoutSeconds;
    const since = performance.now() - lease.lastExtended;
    if (lease.lost.signal.aborted || since < seconds * 1_000) return;
    const error = new CarrierError(
      'LEASE_LOST',
      `message ${messageId} was settled ${Math.round(since)} ms after its visibility was last extended ` +
        `(visibility timeout ${seconds} s): SQS may have handed it to another member as well`,
      { transport: TRANSPORT },
    );
    lease.lost.abort(error);
    this.#o.onError(error);
  }

  /**
   * A call of this receiver found the endpoint silent or unreachable: reported once to onError as
   * `CONNECTION` (until a receive succeeds again), so that a silent connection is noticed by the
   * first call to miss its deadline, be it a receive, a settlement or a heartbeat.
   */
  #reportOutage(what: string, error: unknown): void {
    if (this.#outageReported || this.#closed) return;
    this.#outageReported = true;
    this.#o.onError(awsError(what, error, 'CONNECTION'));
  }

  /** Delete the message (batched). */
  delete(lease: Lease): Promise<void> {
    return this.#deleter.add(lease.receiptHandle).catch((error: unknown) => {
      if (isConnectionFailure(error)) this.#reportOutage('SQS DeleteMessage', error);
      throw awsError('SQS DeleteMessage', error, 'SETTLE_FAILED');
    });
  }

  /** Make the message visible again after `seconds` (batched), capped by the 12-hour limit. */
  changeVisibility(lease: Lease, seconds: number): Promise<void> {
    const left = MAX_VISIBILITY_SECONDS - Math.ceil((performance.now() - lease.receivedAt) / 1_000) - 1;
    return this.#visibility
      .add({ handle: lease.receiptHandle, seconds: Math.max(0, Math.min(seconds, left)) })
      .catch((error: unknown) => {
        if (isConnectionFailure(error)) this.#reportOutage('SQS ChangeMessageVisibility', error);
        throw awsError('SQS ChangeMessageVisibility', error, 'SETTLE_FAILED');
      });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake();
  }

  /**
   * Stop, give back what is still unsettled (visible again at once, attempt unchanged where the queue
   * allows), wait for the receives in flight to end and give back what they bring.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#closed) return;
    await this.stop();
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    const left = [...this.#leases].filter((l) => !l.settled);
    await Promise.allSettled(left.map((l) => this.settle(l, () => this.#o.giveBack(l))));
    // receives in flight end by themselves (at most waitTimeSeconds); what they bring is given back
    await this.#finished();
    this.#closed = true;
  }

  /** Crash: stop without touching any message; unsettled ones come back after their visibility timeout. */
  abort(): void {
    this.#stopped = true;
    this.#closed = true;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#wake();
  }

  /** Resolves once every receive loop has returned (after stop and the cancellation of its receives). */
  async #finished(): Promise<void> {
    await Promise.allSettled(this.#loops);
    await Promise.allSettled([...this.#pendingGiveBacks]);
  }
}

function failure(
  failed:
    | readonly { Id?: string | undefined; Code?: string | undefined; Message?: string | undefined }[]
    | undefined,
  index: number,
  what: string,
): Error | undefined {
  const f = failed?.find((x) => x.Id === String(index));
  return f ? new Error(`${what} refused: ${f.Code ?? 'error'}: ${f.Message ?? ''}`) : undefined;
}
