/**
 * The committable position of one partition while several of its records are in flight at once,
 * plus the durable delivery count Kafka itself does not keep.
 *
 * Kafka commits one offset per partition ("everything before it is done"), so the committable
 * offset is the first record handed out and not yet done; when none is outstanding, the one after
 * the last handed out.
 *
 * Delivery counts live in the commit's metadata string (Kafka stores it with the offset, up to
 * `offset.metadata.max.bytes`, 4096 by default). It lists, relative to the committed offset, the
 * records handed out and not yet done with how many deliveries each has had, and the end of what
 * was handed out. Records below that end and not listed were done. The reader commits it before
 * it hands records out, so a member that dies (SIGKILL, lost lease, `abort()`) leaves behind how
 * often each of its unsettled records was delivered; the next owner adds one, and skips the
 * records listed as done instead of handing them out again.
 */

/** Decoded commit metadata: what the previous owners left about records at or after `base`. */
export interface DeliveryLedger {
  /** The committed offset the metadata is relative to. */
  readonly base: number;
  /** One after the last record handed out; records in [base, end) not in `deliveries` were done. */
  readonly end: number;
  /** Offset → deliveries so far (never settled), for records in [base, end). */
  readonly deliveries: ReadonlyMap<number, number>;
}

const PREFIX = 'carrier1;';
/** Longest metadata written (Kafka's default limit is 4096; leave room). */
export const MAX_METADATA_CHARS = 3_500;

/**
 * Encodes a ledger: `carrier1;<end-base>;<rel>[+<run>]*<n>,…` in base 36, where a run is a row
 * of consecutive offsets with the same count. When it would exceed `MAX_METADATA_CHARS` the list
 * is cut and `end` moved to the first offset left out (those later records then count as never
 * delivered: an undercount, never an overcount, and no record is skipped wrongly).
 */
export function encodeLedger(base: number, end: number, deliveries: ReadonlyMap<number, number>): string {
  const sorted = [...deliveries].filter(([o]) => o >= base && o < end).sort((a, b) => a[0] - b[0]);
  const runs: { start: number; length: number; n: number }[] = [];
  for (const [offset, n] of sorted) {
    const last = runs[runs.length - 1];
    if (last && last.start + last.length === offset && last.n === n) last.length++;
    else runs.push({ start: offset, length: 1, n });
  }
  let text = '';
  let cutAt = end;
  for (const run of runs) {
    const part = `${(run.start - base).toString(36)}${run.length > 1 ? `+${run.length.toString(36)}` : ''}*${run.n.toString(36)}`;
    if (PREFIX.length + 12 + text.length + part.length + 1 > MAX_METADATA_CHARS) {
      cutAt = run.start;
      break;
    }
    text += text === '' ? part : `,${part}`;
  }
  return `${PREFIX}${(cutAt - base).toString(36)};${text}`;
}

/** Decodes commit metadata written by {@link encodeLedger}; anything else (another client's) gives undefined. */
export function decodeLedger(base: number, metadata: string | null | undefined): DeliveryLedger | undefined {
  if (!metadata?.startsWith(PREFIX)) return undefined;
  const [endText, list = ''] = metadata.slice(PREFIX.length).split(';');
  const span = Number.parseInt(endText ?? '', 36);
  if (!Number.isInteger(span) || span < 0) return undefined;
  const deliveries = new Map<number, number>();
  for (const part of list.split(',')) {
    if (part === '') continue;
    const match = /^([0-9a-z]+)(?:\+([0-9a-z]+))?\*([0-9a-z]+)$/.exec(part);
    if (!match) return undefined;
    const start = base + Number.parseInt(match[1]!, 36);
    const length = match[2] === undefined ? 1 : Number.parseInt(match[2], 36);
    const n = Number.parseInt(match[3]!, 36);
    for (let i = 0; i < length; i++) deliveries.set(start + i, n);
  }
  return { base, end: base + span, deliveries };
}

/** What to do with a fetched record. */
export type Plan =
  /** Hand it out; it was delivered `previous` times before without being settled. */
  | { readonly deliver: true; readonly previous: number }
  /** Skip it: done already (in this generation, or by an earlier owner), or in flight here. */
  | { readonly deliver: false };

/**
 * The positions of one partition for one receiver in one group generation: which records are
 * outstanding with their delivery counts, which to skip (done by an earlier owner), and the offset
 * and metadata to commit next.
 */
export class PartitionOffsets {
  /** Offset → deliveries so far, for records handed out (or given back) and not done. */
  readonly #outstanding = new Map<number, number>();
  /** Records whose settlement failed: handed out again when read again (after a seek). */
  readonly #again = new Set<number>();
  #next: number | undefined;
  #committed: { offset: number; metadata: string } | undefined;
  #ledger: DeliveryLedger | undefined;

  /** What earlier owners left in the commit metadata (call before the first record). */
  restore(ledger: DeliveryLedger | undefined): void {
    this.#ledger = ledger;
  }

  /** Decide about a fetched record (records arrive in increasing order, or again after a seek). */
  plan(offset: number): Plan {
    if (this.#next !== undefined && offset < this.#next) {
      if (!this.#again.delete(offset)) return { deliver: false };
      return { deliver: true, previous: this.#outstanding.get(offset) ?? 0 };
    }
    const ledger = this.#ledger;
    if (ledger && offset >= ledger.base && offset < ledger.end) {
      const previous = ledger.deliveries.get(offset);
      return previous === undefined ? { deliver: false } : { deliver: true, previous };
    }
    return { deliver: true, previous: 0 };
  }

  /** A record was handed to the application: its delivery count is now `deliveries`. */
  handed(offset: number, deliveries = 1): void {
    this.#outstanding.set(offset, deliveries);
    this.#advance(offset);
  }

  /** A record was skipped (done before): it does not hold the position back. */
  skipped(offset: number): void {
    this.#advance(offset);
  }

  /** The position after the last record handed out or skipped (to {@link rewind} to). */
  mark(): number | undefined {
    return this.#next;
  }

  /** Forget records handed out after `mark` (they were never delivered: the hand-out failed). */
  rewind(mark: number | undefined): void {
    this.#next = mark;
  }

  #advance(offset: number): void {
    if (this.#next === undefined || offset + 1 > this.#next) this.#next = offset + 1;
  }

  /** The record is done (acknowledged, retried or dead-lettered): it no longer holds the position back. */
  done(offset: number): void {
    this.#outstanding.delete(offset);
    this.#again.delete(offset);
  }

  /**
   * The record was given back unprocessed (`release`): it stays outstanding (the next owner reads
   * it again) and its last delivery is not counted.
   */
  released(offset: number): void {
    const n = this.#outstanding.get(offset);
    if (n !== undefined) this.#outstanding.set(offset, Math.max(0, n - 1));
  }

  /** The record's settlement failed: it stays outstanding and is handed out again when read again. */
  failed(offset: number): void {
    if (this.#outstanding.has(offset)) this.#again.add(offset);
  }

  /** Records to read again after a failed settlement, lowest first. */
  firstAgain(): number | undefined {
    let first: number | undefined;
    for (const o of this.#again) if (first === undefined || o < first) first = o;
    return first;
  }

  /** The offset to commit now (the first not done), or undefined when nothing was handed out. */
  committable(): number | undefined {
    if (this.#next === undefined) return undefined;
    let first = this.#next;
    for (const offset of this.#outstanding.keys()) if (offset < first) first = offset;
    return first;
  }

  /** The metadata to commit with `offset`: outstanding records and, from the ledger, records not read yet. */
  #metadata(offset: number): string {
    const deliveries = new Map(this.#outstanding);
    let end = this.#next ?? offset;
    const ledger = this.#ledger;
    if (ledger && ledger.end > end) {
      for (const [o, n] of ledger.deliveries) if (o >= end) deliveries.set(o, n);
      end = ledger.end;
    }
    return encodeLedger(offset, end, deliveries);
  }

  /** The offset and metadata to commit if they differ from the last commit, else undefined. */
  pending(): { offset: number; metadata: string } | undefined {
    const offset = this.committable();
    if (offset === undefined) return undefined;
    const metadata = this.#metadata(offset);
    const last = this.#committed;
    if (last && last.offset === offset && last.metadata === metadata) return undefined;
    if (last && offset < last.offset) return undefined; // never move the position back
    return { offset, metadata };
  }

  /** Record that `offset` with `metadata` was committed. */
  committed(commit: { offset: number; metadata: string }): void {
    if (this.#committed === undefined || commit.offset >= this.#committed.offset) this.#committed = commit;
  }
}
