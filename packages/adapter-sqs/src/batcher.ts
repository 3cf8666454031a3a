import { asError } from '@carrier/core/kit';

/** Most entries SQS and SNS take in one batch call. */
export const MAX_BATCH_ENTRIES = 10;

interface Pending<T> {
  readonly entry: T;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * Collects single operations (delete one message, change one visibility) issued in the same
 * event-loop turn and sends them as batch calls of up to 10 entries. Each `add` resolves or rejects
 * with the outcome of its own entry only.
 */
export class EntryBatcher<T> {
  #pending: Pending<T>[] = [];
  #scheduled = false;

  /**
   * @param send sends up to 10 entries in one call and returns, per entry in order, undefined for
   *   success or the entry's error; a thrown error fails every entry of the call.
   */
  constructor(private readonly send: (entries: readonly T[]) => Promise<(Error | undefined)[]>) {}

  /** Queue one entry; resolves once its batch call confirmed it. */
  add(entry: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ entry, resolve, reject });
      if (this.#pending.length >= MAX_BATCH_ENTRIES) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.#flush();
        });
      }
    });
  }

  #flush(): void {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, MAX_BATCH_ENTRIES);
      this.send(batch.map((p) => p.entry)).then(
        (results) => {
          batch.forEach((p, i) => {
            const error = results[i];
            if (error) p.reject(error);
            else p.resolve();
          });
        },
        (error: unknown) => {
          const e = asError(error);
          for (const p of batch) p.reject(e);
        },
      );
    }
  }
}
