import type { ReceiveCall, TransportSubscription } from '@carrier/core';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { fail } from './errors.js';
import type { Link } from './link.js';
import { native } from './native.js';
import { type Pulled, Receiver } from './receiver.js';

/**
 * After a pull request missed its heartbeats, how long a PING may wait for its PONG before the
 * connection is declared dead and a reconnect is forced.
 */
export const LIVENESS_PROBE_MS = 5_000;
/** After a forced reconnect, how long the client may take to drop the old socket before it is destroyed. */
const FORCED_RECONNECT_GRACE_MS = 2_000;

/** Destroy the client's socket (an internal of nats.js; best effort): the client then reconnects. */
function destroySocket(nc: NatsConnection): void {
  const transport = (nc as unknown as { protocol?: { transport?: { socket?: unknown } } }).protocol
    ?.transport;
  const socket = transport?.socket as { destroy?: (error?: Error) => void } | undefined;
  socket?.destroy?.(new Error('silent connection'));
}

/** Where one {@link Receiver} reads, and what it does with what it pulls. */
export interface ReceiverSpec {
  readonly stream: string;
  readonly consumer: string;
  /** Most deliveries handed over and not yet settled. */
  readonly prefetch: number;
  readonly onMessage: (pulled: Pulled, receiver: Receiver) => void;
  /** Telemetry: core's `onReceive` (each pull request is reported as a receive call). */
  readonly onReceive?: (() => ReceiveCall) | undefined;
  /** Gives back a message pulled and never handed over (default `-NAK`). */
  readonly giveBack?: ((msg: Msg) => Promise<void>) | undefined;
}

/**
 * The connection's health as the receivers of one transport see it. It follows the client's status
 * (disconnect, reconnect, answered PINGs), tells every receiver, and reports a lost connection to
 * `onError` as `CONNECTION`. A receiver whose pull request went silent triggers a liveness probe
 * (see {@link Liveness.probe}). Held deliveries lose their lease (`LEASE_LOST`) once the server has
 * not been heard from for `ackWaitMs` minus a progress interval.
 */
export class Liveness {
  readonly #nc: NatsConnection;
  readonly #link: Link;
  readonly #receivers = new Set<Receiver>();
  #connected = true;
  /** When the connection last proved alive by an answered PING (epoch ms). */
  #heardAt = Date.now();
  /** How many times the connection was lost so far. */
  #disconnects = 0;
  /** A liveness check is running. */
  #probing = false;
  /** The liveness check forced the current disconnect (already reported). */
  #forced = false;

  /** Starts following the connection's status; nothing is reported once the transport is closed. */
  constructor(link: Link) {
    this.#nc = link.nc;
    this.#link = link;
    void this.#watchStatus();
  }

  /** Start a receiver; it asks for messages at once, and again after every reconnect. */
  open(spec: ReceiverSpec): TransportSubscription {
    const { ackWaitMs } = this.#link.settings;
    const progressEveryMs = Math.max(250, Math.floor(ackWaitMs / 3));
    const receiver: Receiver = new Receiver({
      nc: this.#nc,
      stream: spec.stream,
      consumer: spec.consumer,
      prefetch: spec.prefetch,
      progressEveryMs,
      connected: () => this.#connected,
      onMessage: (pulled) => spec.onMessage(pulled, receiver),
      onReceive: spec.onReceive,
      onSilence: () => void this.probe(),
      giveBack: spec.giveBack,
      lease: {
        heardAt: () => this.#heardAt,
        afterMs: Math.max(0, ackWaitMs - progressEveryMs),
        reason: () =>
          fail(
            'LEASE_LOST',
            `nats-server not heard from for longer than ack_wait (${ackWaitMs} ms): it redelivers what this member held`,
          ),
      },
    });
    this.#receivers.add(receiver);
    receiver.pump();
    const { stream, consumer } = spec;
    const jsm = this.#link.jsm;
    return {
      native: (token) =>
        token === native.subscription
          ? native.subscription.wrap({ stream, consumer, info: () => jsm.consumers.info(stream, consumer) })
          : undefined,
      stop: async () => {
        receiver.stop();
      },
      close: async () => {
        this.#receivers.delete(receiver);
        await receiver.close();
      },
    };
  }

  /** Close every receiver: abandoned pull requests are drained, so what the server had sent is given back. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#receivers].map((r) => r.close()));
    this.#receivers.clear();
  }

  /** Stop every receiver at once, giving nothing back (the connection is being dropped). */
  abandonAll(): void {
    for (const r of this.#receivers) r.abandon();
    this.#receivers.clear();
  }

  async #watchStatus(): Promise<void> {
    for await (const s of this.#nc.status()) {
      if (s.type === 'ping' && s.pendingPings === 1) {
        // every earlier PING was answered: the server was heard within the last interval
        this.#heardAt = Math.max(this.#heardAt, Date.now() - this.#link.settings.pingIntervalMs);
      } else if (s.type === 'disconnect') {
        this.#disconnects++;
        this.#connected = false;
        for (const r of this.#receivers) r.disconnected();
        // a reconnect the liveness check forced was reported when it was decided
        if (!this.#link.closed() && !this.#forced)
          this.#link.onError(fail('CONNECTION', 'lost the connection to nats-server; reconnecting'));
        this.#forced = false;
      } else if (s.type === 'reconnect') {
        this.#connected = true;
        this.#heardAt = Date.now();
        for (const r of this.#receivers) r.reconnected();
      }
    }
  }

  #down(): boolean {
    return this.#link.closed() || !this.#connected || this.#nc.isClosed();
  }

  /**
   * A pull request missed its heartbeats: PING the server. Without a PONG within
   * {@link LIVENESS_PROBE_MS} the connection is silent (half-open): report `CONNECTION` and force a
   * reconnect, after which every receiver asks again. (The client's own PINGs, `pingIntervalMs` ×
   * `maxPingOut`, catch a silent connection when no pull request is waiting.)
   */
  async probe(): Promise<void> {
    if (this.#probing || this.#down()) return;
    this.#probing = true;
    try {
      if ((await this.#answers()) || this.#down()) return;
      this.#forced = true;
      this.#link.onError(
        fail(
          'CONNECTION',
          `the connection to nats-server is silent (no pull heartbeat, no PONG within ${LIVENESS_PROBE_MS} ms); reconnecting`,
        ),
      );
      const before = this.#disconnects;
      await this.#nc.reconnect();
      // the client first flushes its write buffer, which may never drain on a dead socket: end it
      await new Promise((resolve) => setTimeout(resolve, FORCED_RECONNECT_GRACE_MS));
      if (this.#disconnects === before && !this.#link.closed()) destroySocket(this.#nc);
    } catch {
      // closed meanwhile
    } finally {
      this.#probing = false;
    }
  }

  /** Whether a PING is answered within {@link LIVENESS_PROBE_MS}. */
  async #answers(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        // a rejected flush means the connection is already going down: the status loop reports it
        this.#nc.flush().then(
          () => true,
          () => true,
        ),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), LIVENESS_PROBE_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
