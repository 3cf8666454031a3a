import type { JetStreamManager } from '@nats-io/jetstream';
import { API, apiCode } from './errors.js';
import type { Link } from './link.js';
import { RELEASES_STREAM } from './names.js';
import type { Topology } from './topology.js';

/** What a release record holds (JSON): whose record it is and how many releases it counts. */
interface ReleaseRecord {
  readonly id?: unknown;
  readonly releases?: unknown;
}

/**
 * Release records (README "Attempts"): JetStream counts every delivery, a `-NAK` release included,
 * while a release must not charge an attempt. Before a release `-NAK`s a delivery it records, in
 * stream `CARRIER-RELEASES` on the delivery's own subject (`releaseSubject`, last value kept), how
 * many times that delivery was released; a redelivery (delivery count above 1) reads it back and
 * subtracts it. A delivery that leaves the group (ack, dead letter) forgets its record.
 */
export class Releases {
  readonly #link: Link;
  readonly #topology: Topology;

  constructor(link: Link, topology: Topology) {
    this.#link = link;
    this.#topology = topology;
  }

  /**
   * Releases recorded for one delivery: 0 when none, or when the record belongs to another message
   * (a stream deleted and re-created reuses sequences).
   *
   * @throws CarrierError `CONNECTION`, `TIMEOUT` or `CLOSED` when the record cannot be read.
   */
  async count(subject: string, id: string): Promise<number> {
    let stored: Awaited<ReturnType<JetStreamManager['streams']['getMessage']>>;
    try {
      stored = await this.#link.jsm.streams.getMessage(RELEASES_STREAM, { last_by_subj: subject });
    } catch (error) {
      const code = apiCode(error);
      if (code === API.streamNotFound || code === API.noMessageFound) return 0;
      throw this.#link.wrap(error, 'cannot read the release record');
    }
    if (!stored) return 0;
    try {
      const record = JSON.parse(new TextDecoder().decode(stored.data)) as ReleaseRecord;
      return record.id === id && typeof record.releases === 'number' ? record.releases : 0;
    } catch {
      return 0;
    }
  }

  /**
   * Record that a delivery was released `releases` times in all (one confirmed publish). Never
   * throws: if the record cannot be stored, `onError` hears why and the delivery's next delivery
   * counts one attempt more.
   */
  async note(subject: string, id: string, releases: number): Promise<void> {
    try {
      await this.#topology.releasesStream();
      await this.#link.js.publish(subject, new TextEncoder().encode(JSON.stringify({ id, releases })), {
        expect: { streamName: RELEASES_STREAM },
        timeout: this.#link.settings.requestTimeoutMs,
      });
    } catch (error) {
      this.#link.onError(
        this.#link.wrap(
          error,
          `release of ${id}: the release could not be recorded, its next delivery counts as an attempt`,
        ),
      );
    }
  }

  /** Forget the release record of a delivery that left the group (best effort: a leftover is ignored). */
  forget(subject: string): void {
    this.#link.jsm.streams.purge(RELEASES_STREAM, { filter: subject }).catch(() => {});
  }
}
