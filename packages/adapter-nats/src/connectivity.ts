import type { NatsConnection } from '@nats-io/transport-node';
import { fail } from './errors.js';

/** What of a connection's life {@link Connectivity} follows (`NatsConnection.status()`). */
export type StatusSource = Pick<NatsConnection, 'status'>;

/** Default deadline of a request that names none (nats.js' own default), ms. */
const DEFAULT_REQUEST_TIMEOUT_MS = 1_000;

/**
 * Whether the client is connected, for the requests of one transport (JetStream publishes and API
 * calls, acks), whose replies a disconnect loses. nats.js does not fail a request when its
 * connection drops; it waits for the reply until the request's timeout. But no reply can come any
 * more: the server sent it (if it got the request at all) on the connection that is gone, and
 * nats.js discards what it had not written yet when it dials again (`resetOutbound` on every
 * dial). Found by the contract suite's reconnect case: after a nats-server restart, publishing
 * stalled for `requestTimeoutMs` (10 s). So {@link guard} gives a connection whose `request()`:
 * - made while disconnected, waits for the reconnect (within its own deadline) instead of being
 *   written into a buffer the next dial discards;
 * - in flight when the connection drops, fails at once with `CONNECTION` instead of after its
 *   timeout (its outcome is unknown, as after a timeout).
 */
export class Connectivity {
  #connected = true;
  #ended = false;
  readonly #onReconnect = new Set<() => void>();
  readonly #onDisconnect = new Set<() => void>();

  /** Follows `source`'s statuses until its connection is closed. */
  constructor(source: StatusSource) {
    void this.#watch(source);
  }

  /** Whether the client is connected (true again once it reconnected). */
  get connected(): boolean {
    return this.#connected;
  }

  /** The client lost its connection (nats.js status `disconnect`). */
  disconnected(): void {
    this.#connected = false;
    for (const f of [...this.#onDisconnect]) f();
  }

  /** The client is connected again (status `reconnect`), or closed for good: waiters go on. */
  reconnected(): void {
    this.#connected = true;
    for (const f of [...this.#onReconnect]) f();
  }

  /**
   * Resolves at once when connected, else on the reconnect; rejects with `TIMEOUT` after
   * `timeoutMs` (ms). After the connection was closed it resolves at once (the request then fails
   * as on a closed connection).
   */
  whenConnected(timeoutMs: number, what: string): Promise<void> {
    if (this.#connected || this.#ended) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.#onReconnect.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#onReconnect.delete(done);
        reject(fail('TIMEOUT', `${what}: not reconnected to nats-server within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#onReconnect.add(done);
    });
  }

  /**
   * `request`'s outcome, or a rejection with `CONNECTION` as soon as the connection drops before
   * it settled (a later rejection of `request` is then ignored).
   */
  untilDisconnect<T>(request: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const lost = () => {
        this.#onDisconnect.delete(lost);
        reject(fail('CONNECTION', `${what}: the connection to nats-server dropped before the reply came`));
      };
      this.#onDisconnect.add(lost);
      request.then(
        (value) => {
          this.#onDisconnect.delete(lost);
          resolve(value);
        },
        (error: unknown) => {
          this.#onDisconnect.delete(lost);
          reject(error);
        },
      );
    });
  }

  /**
   * `send(timeoutMs)` as a request that waits for a reconnect first and fails when the connection
   * drops (see the class): `timeoutMs` is what is left of the deadline after the wait.
   */
  async request<T>(timeoutMs: number, what: string, send: (timeoutMs: number) => Promise<T>): Promise<T> {
    let timeout = timeoutMs;
    if (!this.#connected && !this.#ended) {
      const started = Date.now();
      await this.whenConnected(timeout, what);
      timeout = Math.max(1, timeout - (Date.now() - started));
    }
    return this.untilDisconnect(send(timeout), what);
  }

  /**
   * `nc` with a guarded `request()` (see the class), for `jetstream()`, `jetstreamManager()` and
   * the transport's own requests; every other member is `nc`'s own.
   */
  guard(nc: NatsConnection): NatsConnection {
    const request: NatsConnection['request'] = (subject, payload, options) =>
      this.request(options?.timeout ?? DEFAULT_REQUEST_TIMEOUT_MS, `request to ${subject}`, (timeout) =>
        nc.request(subject, payload, { ...options, timeout }),
      );
    return new Proxy(nc, {
      get(target, property) {
        if (property === 'request') return request;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  async #watch(source: StatusSource): Promise<void> {
    try {
      for await (const s of source.status()) {
        if (s.type === 'disconnect') this.disconnected();
        else if (s.type === 'reconnect') this.reconnected();
      }
    } finally {
      this.#ended = true;
      this.reconnected();
    }
  }
}
