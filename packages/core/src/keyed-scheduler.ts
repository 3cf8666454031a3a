/** A queued task and its ordering key. */
interface Entry<T> {
  readonly key: string | undefined;
  readonly item: T;
}

/**
 * Runs tasks with at most `concurrency` in flight, and tasks of the same key one at a time in
 * the order they were pushed. Tasks without a key only obey the concurrency limit.
 *
 * The queue is bounded by the transport's prefetch, so the scan for the next runnable task stays
 * short; the common case (the oldest task is runnable) takes it from the head without a scan. A
 * task costs one `then` on its promise: no wrapper promise, no set of promises in flight.
 */
export class KeyedScheduler<T> {
  /** Queued tasks from `#head` on; a taken task in the middle leaves a hole (`undefined`). */
  #pending: (Entry<T> | undefined)[] = [];
  #head = 0;
  #queued = 0;
  readonly #activeKeys = new Set<string>();
  #running = 0;
  /** In `#pump` now: a push or a finish meanwhile leaves the starting to the loop under way. */
  #pumping = false;
  /** `idle()` callers waiting for `#running` to reach 0. */
  #idle: (() => void)[] = [];

  /**
   * @param run starts a task: a promise of its end, or undefined when it ended already
   *   (synchronously). It must not reject; a rejection or a throw counts as the end of the task.
   */
  constructor(
    private readonly concurrency: number,
    private readonly run: (item: T) => Promise<void> | undefined,
  ) {}

  /** Tasks started and not finished. */
  get running(): number {
    return this.#running;
  }

  /** Tasks waiting for a slot or for their key. */
  get queued(): number {
    return this.#queued;
  }

  /** Queue a task; it starts as soon as a slot is free and no earlier task of its key runs. */
  push(key: string | undefined, item: T): void {
    if (
      this.#queued === 0 &&
      !this.#pumping &&
      this.#running < this.concurrency &&
      (key === undefined || !this.#activeKeys.has(key))
    ) {
      // nothing waits and it may run: start it at once, without queueing it (the common case)
      this.#pumping = true;
      try {
        this.#start(key, item);
      } finally {
        this.#pumping = false;
      }
      // what it pushed while it ran may start now; or it ended already, and idle() may resolve
      if (this.#queued > 0) this.#pump();
      else this.#wakeIdle();
      return;
    }
    this.#pending.push({ key, item });
    this.#queued++;
    this.#pump();
  }

  /** Remove and return every task that has not started, in push order. */
  drainPending(): T[] {
    const items: T[] = [];
    for (let i = this.#head; i < this.#pending.length; i++) {
      const entry = this.#pending[i];
      if (entry) items.push(entry.item);
    }
    this.#pending = [];
    this.#head = 0;
    this.#queued = 0;
    return items;
  }

  /** Resolves when every started task has finished (tasks started meanwhile included). */
  idle(): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Start what may start. A loop, never a recursion: a task that ends synchronously (or pushes
   * more tasks from inside) is accounted for here and the loop goes on.
   */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#running < this.concurrency && this.#queued > 0) {
        const entry = this.#take();
        if (!entry) break;
        this.#start(entry.key, entry.item);
      }
    } finally {
      this.#pumping = false;
    }
    this.#wakeIdle();
  }

  /** Resolve the `idle()` callers once no task runs. */
  #wakeIdle(): void {
    if (this.#running === 0 && this.#idle.length > 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Run one task (in `#pump`'s loop, or for `push` with `#pumping` set): its end frees its slot. */
  #start(key: string | undefined, item: T): void {
    this.#running++;
    if (key !== undefined) this.#activeKeys.add(key);
    let task: Promise<void> | undefined;
    try {
      task = this.run(item);
    } catch {
      // `run` handles its own errors; nothing may escape the scheduler
      task = undefined;
    }
    if (task) {
      const done = () => this.#finish(key);
      task.then(done, done);
    } else this.#finish(key);
  }

  #finish(key: string | undefined): void {
    this.#running--;
    if (key !== undefined) this.#activeKeys.delete(key);
    this.#pump();
  }

  /** The oldest runnable task, removed from the queue; undefined when every queued key is busy. */
  #take(): Entry<T> | undefined {
    const pending = this.#pending;
    while (this.#head < pending.length && pending[this.#head] === undefined) this.#head++;
    for (let i = this.#head; i < pending.length; i++) {
      const entry = pending[i];
      if (!entry || (entry.key !== undefined && this.#activeKeys.has(entry.key))) continue;
      if (i === this.#head) this.#head++;
      else pending[i] = undefined;
      this.#queued--;
      if (this.#head === pending.length) {
        pending.length = 0;
        this.#head = 0;
      } else if (this.#head > 1024 && this.#head * 2 > pending.length) {
        pending.splice(0, this.#head);
        this.#head = 0;
      }
      return entry;
    }
    return undefined;
  }
}
