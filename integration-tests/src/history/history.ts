import { CarrierError } from '@carrier/core';

// The recorder of the history checker (check.ts analyses, report.ts formats): every publish
// attempt with its outcome and every handler call, in the order they happened. A durability spec
// records through one History and asks report() what went wrong, so every spec speaks of lost,
// phantom, duplicate and out-of-order messages and of unavailability in the same words.

/**
 * What a publish attempt ended with:
 * - `confirmed`: the publish resolved (the broker confirmed it);
 * - `failed`: the broker or the client said the message was not taken (a `PUBLISH_FAILED` entry
 *   naming it);
 * - `unknown`: the attempt ended without an answer either way (a timeout, a lost connection): the
 *   message may or may not have been stored.
 */
export type PublishOutcome = 'confirmed' | 'failed' | 'unknown';

/** One publish attempt of one message. Times are epoch ms (`Date.now()`). */
export interface PublishAttempt {
  readonly id: string;
  readonly key?: string;
  readonly outcome: PublishOutcome;
  /** When the attempt began. */
  readonly startedAt: number;
  /** When its outcome was known. */
  readonly at: number;
  /** Whether an earlier attempt of the same id ended `failed` or `unknown` (the test re-published it). */
  readonly retry: boolean;
  /** The error's code or message, for `failed` and `unknown`. */
  readonly error?: string;
}

/** One call of a handler. */
export interface HandlerCall {
  /** Consumer group. */
  readonly group: string;
  /** Which member of the group (a process, a connection): free text, e.g. `in-process`, `child-2`. */
  readonly member: string;
  readonly id: string;
  readonly key?: string;
  /** The delivery attempt Carrier reported (1 for the first delivery); 0 when unknown. */
  readonly attempt: number;
  /** Epoch ms. */
  readonly at: number;
}

/** Publish attempt as given to {@link History.publish}: `retry` is derived, times default to now. */
export interface PublishRecord {
  readonly id: string;
  readonly key?: string;
  readonly outcome: PublishOutcome;
  readonly startedAt?: number;
  readonly at?: number;
  readonly error?: string;
}

/** Handler call as given to {@link History.handled}; `at` defaults to now, `attempt` to 0. */
export interface HandlerRecord {
  readonly group: string;
  readonly member: string;
  readonly id: string;
  readonly key?: string;
  readonly attempt?: number;
  readonly at?: number;
}

/** The outcome a rejected publish stands for: a `PUBLISH_FAILED` naming the message is `failed`, anything else `unknown`. */
export function outcomeOf(error: unknown, id: string): Exclude<PublishOutcome, 'confirmed'> {
  if (
    error instanceof CarrierError &&
    error.code === 'PUBLISH_FAILED' &&
    error.failures.some((f) => f.id === id)
  )
    return 'failed';
  return 'unknown';
}

function describeError(error: unknown): string {
  return error instanceof CarrierError ? error.code : error instanceof Error ? error.message : String(error);
}

/** Records publish attempts and handler calls. Append-only; safe to share between callbacks (single-threaded). */
export class History {
  /** Groups expected to handle every confirmed publish (a group that handled nothing is still reported). */
  readonly groups: readonly string[];
  readonly publishes: PublishAttempt[] = [];
  readonly calls: HandlerCall[] = [];
  readonly #notConfirmed = new Set<string>();

  constructor(options: { readonly groups: readonly string[] }) {
    this.groups = [...options.groups];
  }

  /** Records one publish attempt; `retry` is true when an earlier attempt of this id failed or was unknown. */
  publish(record: PublishRecord): PublishAttempt {
    const at = record.at ?? Date.now();
    const attempt: PublishAttempt = {
      id: record.id,
      ...(record.key === undefined ? {} : { key: record.key }),
      outcome: record.outcome,
      startedAt: record.startedAt ?? at,
      at,
      retry: this.#notConfirmed.has(record.id),
      ...(record.error === undefined ? {} : { error: record.error }),
    };
    this.publishes.push(attempt);
    if (record.outcome !== 'confirmed') this.#notConfirmed.add(record.id);
    return attempt;
  }

  /** Records one handler call. */
  handled(record: HandlerRecord): HandlerCall {
    const call: HandlerCall = {
      group: record.group,
      member: record.member,
      id: record.id,
      ...(record.key === undefined ? {} : { key: record.key }),
      attempt: record.attempt ?? 0,
      at: record.at ?? Date.now(),
    };
    this.calls.push(call);
    return call;
  }

  /**
   * Runs one publish of `entries` (a single message or a batch) and records each entry's outcome:
   * all confirmed when `send` resolves; on a `PUBLISH_FAILED` the entries it names `failed` and the
   * others confirmed; on any other rejection (or a `PUBLISH_FAILED` naming none) all `unknown`. Rethrows the error. Returns the attempts.
   */
  async track(
    entries: readonly { readonly id: string; readonly key?: string }[],
    send: () => Promise<unknown>,
  ): Promise<PublishAttempt[]> {
    const startedAt = Date.now();
    try {
      await send();
    } catch (error) {
      const at = Date.now();
      const failed =
        error instanceof CarrierError && error.code === 'PUBLISH_FAILED' && error.failures.length > 0
          ? new Set(error.failures.map((f) => f.id))
          : undefined;
      for (const e of entries) {
        const outcome: PublishOutcome = failed ? (failed.has(e.id) ? 'failed' : 'confirmed') : 'unknown';
        this.publish({
          ...e,
          outcome,
          startedAt,
          at,
          ...(outcome === 'confirmed' ? {} : { error: describeError(error) }),
        });
      }
      throw error;
    }
    const at = Date.now();
    return entries.map((e) => this.publish({ ...e, outcome: 'confirmed', startedAt, at }));
  }
}
