import { type Carrier, isCarrierError } from '@carrier/core';
import { expect } from 'vitest';
import type { ContractCase } from '../case.js';
import { duplicates, freshName, sleep, waitFor } from '../support.js';

const theme = 'reconnect';

/**
 * Codes a publish may reject with while the broker is away: its outcome is unknown (it may still
 * have been stored), so a user publishes it again with the same id, as the case does.
 */
const RETRYABLE_PUBLISH: ReadonlySet<string> = new Set(['CONNECTION', 'TIMEOUT', 'PUBLISH_FAILED']);

/** What `onError` may report while the broker restarts: the outage, and its effect on deliveries. */
const OUTAGE_REPORTS: ReadonlySet<string> = new Set(['CONNECTION', 'TIMEOUT', 'LEASE_LOST', 'SETTLE_FAILED']);

/** Pause between two tries of a publish that was rejected with a retryable code, ms. */
const RETRY_PAUSE_MS = 200;

/** Publishes of the case: each one tried until acknowledged, retryable rejections counted. */
class Publisher {
  /** Ids acknowledged by `publish`/`publishBatch`. */
  readonly acknowledged: string[] = [];
  /** Rejections with a retryable code (each followed by a new try). */
  retried = 0;

  constructor(
    private readonly c: Carrier,
    private readonly topic: string,
    private readonly deadlineMs: number,
  ) {}

  /** Publish `count` messages as one batch, again and again (same ids) until acknowledged. */
  async batch(label: string, count: number): Promise<void> {
    const messages = Array.from({ length: count }, (_, i) => ({
      body: { label, n: i },
      id: freshName(label),
    }));
    await this.#tryUntilAcknowledged(`${label} batch`, () => this.c.publishBatch(this.topic, messages));
    this.acknowledged.push(...messages.map((m) => m.id));
  }

  /** Publish one message, again (same id) until acknowledged. */
  async one(label: string, n: number): Promise<void> {
    const id = freshName(label);
    await this.#tryUntilAcknowledged(`${label} ${n}`, () => this.c.publish(this.topic, { label, n }, { id }));
    this.acknowledged.push(id);
  }

  async #tryUntilAcknowledged(what: string, send: () => Promise<unknown>): Promise<void> {
    const deadline = Date.now() + this.deadlineMs;
    for (;;) {
      try {
        await send();
        return;
      } catch (error) {
        const retryable = isCarrierError(error) && RETRYABLE_PUBLISH.has(error.code);
        if (!retryable || Date.now() > deadline) {
          throw new Error(`publish of ${what} failed (retried ${this.retried} times in all)`, {
            cause: error,
          });
        }
        this.retried++;
        await sleep(RETRY_PAUSE_MS);
      }
    }
  }
}

export const brokerRestart: ContractCase = {
  name: 'the broker restarts: publishing and consuming resume, nothing published before or during the restart is lost',
  theme,
  needs: ['restartableBroker'],
  timeouts: 8,
  async run({ options, carrierAt, note, timeoutMs }) {
    const broker = options.broker!;
    const reports: Error[] = [];
    const asked = performance.now();
    const url = await broker.url(); // may start the broker
    const readyMs = performance.now() - asked;
    const c = await carrierAt(url, { onError: (e) => reports.push(e) });
    const topic = freshName('restart');
    await c.declare(topic, ['g']);
    const handled: string[] = [];
    await c.subscribe(topic, { group: 'g', concurrency: 4 }, (m) => {
      handled.push(m.id);
    });
    const publisher = new Publisher(c, topic, timeoutMs * 2);
    const allHandled = (what: string, deadlineMs: number) => {
      const seen = () => new Set(handled);
      return waitFor(
        () => publisher.acknowledged.every((id) => seen().has(id)),
        deadlineMs,
        `${what} (${publisher.acknowledged.filter((id) => !seen().has(id)).length} of ${publisher.acknowledged.length} missing)`,
      );
    };
    await publisher.batch('before', 20);
    await allHandled('the messages published before the restart', timeoutMs);

    // One message after the other while the broker stops and starts, as an application would keep
    // publishing; then a few more once it answers again.
    let restarted = false;
    let resumedAt = 0;
    const during = (async () => {
      for (let n = 0, after = 0; after < 5; n++) {
        await publisher.one('during', n);
        if (restarted && after++ === 0) resumedAt = performance.now();
      }
    })();
    during.catch(() => {}); // awaited below; not an unhandled rejection while the broker restarts
    const restartStarted = performance.now();
    await broker.restart();
    const restartedAt = performance.now();
    restarted = true;
    await during;
    await publisher.batch('after', 20);
    const resumeStarted = performance.now();
    // on the same subscription: no new subscribe
    await allHandled(
      'every acknowledged message, on the subscription made before the restart',
      timeoutMs * 3,
    );
    const resumeMs = performance.now() - resumeStarted;

    const unexpected = reports.filter((e) => !(isCarrierError(e) && OUTAGE_REPORTS.has(e.code)));
    expect(unexpected.map(String), 'onError reports other than the outage and its effects').toEqual([]);
    const codes = [...new Set(reports.map((e) => (isCarrierError(e) ? e.code : e.name)))].join(', ');
    await note(
      `broker ready in ${seconds(readyMs)}; ${publisher.acknowledged.length} messages, restart ${seconds(restartedAt - restartStarted)}, ` +
        `publishing resumed ${seconds(resumedAt - restartedAt)} after it, ` +
        `${publisher.retried} publishes retried, last ones handled ${seconds(resumeMs)} after ` +
        `publishing; ${duplicates(handled).size} handled more than once; onError: ${codes || 'nothing'}`,
    );
  },
};

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
