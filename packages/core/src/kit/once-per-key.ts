/**
 * Runs an asynchronous job at most once per key at a time and keeps its result: the first call for a
 * key starts `make`, every later call for that key gets the same promise — in flight or settled.
 * A job that fails is forgotten (the callers waiting on it get its error), so the next call for the
 * key starts it again. Typical use: declare a broker object (queue, stream, exchange) once per
 * connection.
 *
 * @typeParam T the job's result (`void` for a declaration).
 */
export class OncePerKey<T> {
  readonly #jobs = new Map<string, Promise<T>>();

  /** The promise of the job for `key`, starting it with `make` unless one is kept for the key. */
  run(key: string, make: () => Promise<T>): Promise<T> {
    const kept = this.#jobs.get(key);
    if (kept) return kept;
    let job: Promise<T>;
    try {
      job = make();
    } catch (error) {
      return Promise.reject(error);
    }
    this.#jobs.set(key, job);
    job.catch(() => {
      // only this job is forgotten: after a forget() another job may hold the key
      if (this.#jobs.get(key) === job) this.#jobs.delete(key);
    });
    return job;
  }

  /**
   * Forgets the job kept for `key`, so that the next {@link run} starts it again (e.g. after the
   * broker said the object it declared is gone). Callers already waiting keep their promise.
   */
  forget(key: string): void {
    this.#jobs.delete(key);
  }

  /** Whether a job for `key` is in flight or succeeded. */
  has(key: string): boolean {
    return this.#jobs.has(key);
  }

  /** Forgets every job (e.g. when a new connection replaces the one the jobs ran on). */
  clear(): void {
    this.#jobs.clear();
  }
}
