/**
 * Runs tasks with at most `concurrency` in flight, and tasks of the same key one at a time in
 * the order they were pushed. Tasks without a key only obey the concurrency limit.
 *
 * The queue is bounded by the transport's prefetch, so the linear scan for the next runnable task
 * stays small.
 */
export class KeyedScheduler<T> {
  readonly #pending: Array<{ key: string | undefined; item: T }> = [];
  readonly #activeKeys = new Set<string>();
  readonly #inFlight = new Set<Promise<void>>();
  #running = 0;

  constructor(
    private readonly concurrency: number,
    private readonly run: (item: T) => Promise<void>,
  ) {}

  /** Tasks started and not finished. */
  get running(): number {
    return this.#running;
  }

  /** Tasks waiting for a slot or for their key. */
  get queued(): number {
    return this.#pending.length;
  }

  /** Queue a task; it starts as soon as a slot is free and no earlier task of its key runs. */
  push(key: string | undefined, item: T): void {
    this.#pending.push({ key, item });
    this.#pump();
  }

  /** Remove and return every task that has not started. */
  drainPending(): T[] {
    return this.#pending.splice(0).map((entry) => entry.item);
  }

  /** Resolves when every started task has finished. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #pump(): void {
    while (this.#running < this.concurrency) {
      const index = this.#pending.findIndex(
        (entry) => entry.key === undefined || !this.#activeKeys.has(entry.key),
      );
      if (index < 0) return;
      const [entry] = this.#pending.splice(index, 1);
      if (!entry) return;
      this.#start(entry.key, entry.item);
    }
  }

  #start(key: string | undefined, item: T): void {
    this.#running++;
    if (key !== undefined) this.#activeKeys.add(key);
    const task = (async () => {
      try {
        await this.run(item);
      } catch {
        // `run` handles its own errors; nothing may escape the scheduler.
      }
    })().finally(() => {
      this.#running--;
      if (key !== undefined) this.#activeKeys.delete(key);
      this.#inFlight.delete(task);
      this.#pump();
    });
    this.#inFlight.add(task);
  }
}
