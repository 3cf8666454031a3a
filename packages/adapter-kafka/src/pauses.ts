import type { Consumer } from 'kafkajs';

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Pauses of one receiver's consumer: a partition whose next record is not due yet is paused until
 * it is (other partitions go on), and every topic is paused when the receiver stops. A consumer
 * that is not running (crashed and restarting) cannot be paused; it fetches the record again and
 * the receiver checks it again.
 */
export class Pauses {
  readonly #consumer: Consumer;
  readonly #topics: readonly string[];
  readonly #running: () => boolean;
  readonly #dueTimers = new Map<string, NodeJS.Timeout>();

  /** `running`: whether resuming a partition when it is due still makes sense. */
  constructor(consumer: Consumer, topics: readonly string[], running: () => boolean) {
    this.#consumer = consumer;
    this.#topics = topics;
    this.#running = running;
  }

  /** Pauses `partition` of `topic` until `due` (ms since the epoch). */
  until(topic: string, partition: number, due: number): void {
    const key = `${topic}\u0000${partition}`;
    clearTimeout(this.#dueTimers.get(key));
    try {
      this.#consumer.pause([{ topic, partitions: [partition] }]);
    } catch {
      return; // not running (crashed and restarting): the record is fetched and checked again
    }
    const timer = setTimeout(
      () => {
        this.#dueTimers.delete(key);
        if (!this.#running()) return;
        try {
          this.#consumer.resume([{ topic, partitions: [partition] }]);
        } catch {
          // not running: a restarted consumer fetches the partition anyway
        }
      },
      Math.min(Math.max(0, due - Date.now()) + 5, MAX_TIMER_MS),
    );
    this.#dueTimers.set(key, timer);
  }

  /** Pauses every topic of the receiver. */
  all(): void {
    try {
      this.#consumer.pause(this.#topics.map((topic) => ({ topic })));
    } catch {
      // not running
    }
  }

  /** Forgets the pending resumptions (the receiver closes). */
  clear(): void {
    for (const timer of this.#dueTimers.values()) clearTimeout(timer);
    this.#dueTimers.clear();
  }
}
