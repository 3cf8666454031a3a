import { withDeadline } from '@carrier/core/kit';
import type { Consumer } from 'kafkajs';

/** What {@link OffsetCommits} needs of a consumer: kafkajs' `commitOffsets` shape (another driver passes its own). */
export type OffsetCommitter = Pick<Consumer, 'commitOffsets'>;

import { decodeLedger, PartitionOffsets } from './offsets.js';
import type { CommittedOffsets } from './topology.js';

/**
 * The partition positions of one receiver in the current group generation, and their offset
 * commits. Commits asked for at the same moment share one OffsetCommit; a commit covers, per
 * partition, everything up to the first record not done, with the delivery ledger as metadata.
 */
export class OffsetCommits {
  readonly #consumer: OffsetCommitter;
  readonly #aborted: () => boolean;
  #offsets = new Map<string, PartitionOffsets>();
  #ledgers: Promise<CommittedOffsets> = Promise.resolve(new Map());
  #waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  #committing: Promise<void> | undefined;

  /** `aborted`: once true, nothing is committed any more (commits resolve at once). */
  constructor(consumer: OffsetCommitter, aborted: () => boolean) {
    this.#consumer = consumer;
    this.#aborted = aborted;
  }

  /**
   * A new generation (group join): positions of the old assignment are the old owner's business
   * now; `ledgers` (the committed offsets and metadata of the new assignment) seed the partitions.
   * `kept` (a driver whose records in flight survive a rejoin) names the partitions this member
   * keeps: their positions carry over (`topic\u0000partition` keys).
   */
  newGeneration(ledgers: Promise<CommittedOffsets>, kept: ReadonlySet<string> = new Set()): void {
    const old = this.#offsets;
    this.#offsets = new Map([...old].filter(([key]) => kept.has(key)));
    this.#ledgers = ledgers;
  }

  /** The positions of a partition of the current generation (created from its ledger on first use). */
  async partition(topic: string, partition: number): Promise<PartitionOffsets> {
    const key = `${topic}\u0000${partition}`;
    const offsetsMap = this.#offsets;
    const ledgers = await this.#ledgers;
    let offsets = offsetsMap.get(key);
    if (!offsets) {
      offsets = new PartitionOffsets();
      const committed = ledgers.get(key);
      if (committed && committed.offset >= 0)
        offsets.restore(decodeLedger(committed.offset, committed.metadata));
      offsetsMap.set(key, offsets);
    }
    return offsets;
  }

  /** The topic and partition of `offsets` if it belongs to the current generation. */
  locate(offsets: PartitionOffsets): { topic: string; partition: number } | undefined {
    for (const [key, current] of this.#offsets) {
      if (current !== offsets) continue;
      const [topic, partition] = key.split('\u0000') as [string, string];
      return { topic, partition: Number(partition) };
    }
    return undefined;
  }

  /** Commits what is committable now; resolves once a commit covering it was accepted (or nothing was due). */
  soon(): Promise<void> {
    if (this.#aborted()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#committing ??= this.#loop();
    });
  }

  /** {@link soon}, rejecting with a `DeadlineError` after `ms` milliseconds (the commit itself goes on). */
  within(ms: number): Promise<void> {
    return withDeadline({ what: 'offset commit', ms }, () => this.soon());
  }

  async #loop(): Promise<void> {
    try {
      while (this.#waiters.length > 0) {
        // settle calls of the same moment share one commit
        await new Promise((resolve) => setImmediate(resolve));
        const waiters = this.#waiters;
        this.#waiters = [];
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
    if (this.#aborted()) return;
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
}
