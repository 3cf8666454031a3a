/**
 * The committable position of one partition while several of its records are in flight at once.
 * Kafka commits one offset per partition ("everything before it is done"), so the committable
 * offset is the first record handed out and not yet done; when none is outstanding, the one after
 * the last handed out. A record given back (`release`) stays outstanding for good: nothing at or
 * after it is committed by this member, so the next owner of the partition reads it again.
 */
export class PartitionOffsets {
  readonly #outstanding = new Set<number>();
  #next: number | undefined;
  #committed: number | undefined;

  /** A record was handed to the application. Offsets must be handed out in increasing order. */
  handed(offset: number): void {
    this.#outstanding.add(offset);
    if (this.#next === undefined || offset + 1 > this.#next) this.#next = offset + 1;
  }

  /** The record is done (acknowledged, retried or dead-lettered): it no longer holds the position back. */
  done(offset: number): void {
    this.#outstanding.delete(offset);
  }

  /** The offset to commit now (the first not done), or undefined when nothing was handed out. */
  committable(): number | undefined {
    if (this.#next === undefined) return undefined;
    let first = this.#next;
    for (const offset of this.#outstanding) if (offset < first) first = offset;
    return first;
  }

  /** The committable offset if it differs from the last one committed, else undefined. */
  pending(): number | undefined {
    const offset = this.committable();
    return offset === this.#committed ? undefined : offset;
  }

  /** Record that `offset` was committed. */
  committed(offset: number): void {
    if (this.#committed === undefined || offset > this.#committed) this.#committed = offset;
  }
}
