import type { ReceiveCall } from '@carrier/core';
import {
  createInbox,
  type Msg,
  type NatsConnection,
  nanos,
  type Subscription,
} from '@nats-io/transport-node';
import { fail } from './errors.js';
import { NAK, WPI } from './wire.js';

/**
 * How long one pull request waits at the server for messages. Short, because `close()` waits for the
 * outstanding request to end at the server (see {@link Receiver.close}): an idle member's close takes
 * up to this long.
 */
const PULL_EXPIRES_MS = 1_000;
/** The server sends a heartbeat this often while a pull request waits (at most half of expires). */
const PULL_HEARTBEAT_MS = 400;
/** A pull request that shows no sign of life for this long is lost (e.g. in a server restart): ask again. */
const PULL_SILENCE_MS = 2_500;
/** Pause after a pull request failed (no responders while JetStream restarts, consumer missing, …). */
const FAILURE_BACKOFF_MS = 500;
/**
 * Pull requests outstanding at once: a second one is asked for when at least half the prefetch is
 * free, so the server always has a request to serve while the previous one ends (one request at a
 * time leaves the server idle for a round trip after every batch).
 */
const MAX_REQUESTS = 2;
/** Longest `close()` waits for the outstanding pull request to end and late messages to be given back. */
const CLOSE_DRAIN_LIMIT_MS = 5_000;

interface PullRequest {
  readonly sub: Subscription;
  remaining: number;
  received: number;
  timer: NodeJS.Timeout;
  ended: boolean;
  /** Telemetry: this pull request as a receive call (core's `onReceive`). */
  readonly call: ReceiveCall | undefined;
  /** Resolves when the request ended (see `#end`). */
  readonly over: Promise<void>;
  readonly finish: () => void;
}

/** A message handed to the owner; `done()` must be called once it is settled (frees its slot). */
export interface Pulled {
  readonly msg: Msg;
  /**
   * Aborted when the server has surely stopped counting this member's lease: the connection has
   * been down for longer than ack_wait minus a progress interval (no `+WPI` could reach it).
   */
  readonly lease?: AbortSignal | undefined;
  /** Frees the slot and stops the progress heartbeats. Idempotent. */
  done(): void;
  /**
   * The pull request that brought it, as reported to telemetry: an owner that hands the message
   * over later (asynchronously) does so inside `receive.handOut`.
   */
  readonly receive?: ReceiveCall | undefined;
}

/** Options of a {@link Receiver}. */
export interface ReceiverOptions {
  readonly nc: NatsConnection;
  readonly stream: string;
  readonly consumer: string;
  /** Most messages handed over and not yet `done()`; also the largest pull batch. */
  readonly prefetch: number;
  /** Interval of `+WPI` progress acks for every message handed over and not done (ack_wait / 3). */
  readonly progressEveryMs: number;
  /** False while the client is disconnected (requests would be lost). */
  readonly connected: () => boolean;
  readonly onMessage: (pulled: Pulled) => void;
  /** Telemetry: each pull request is reported as a receive call (core's `onReceive`), if given. */
  readonly onReceive?: (() => ReceiveCall) | undefined;
  /**
   * A pull request showed no sign of life (no message, no heartbeat) for {@link PULL_SILENCE_MS}:
   * the server lost it, or the connection went silent. The owner checks the connection (and forces
   * a reconnect if it is dead); the receiver asks again meanwhile.
   */
  readonly onSilence?: (() => void) | undefined;
  /**
   * Give back a message that was pulled but never handed over (it arrived after `stop()`, or for an
   * abandoned request). Default: `-NAK`. The owner may record first that this delivery must not be
   * charged as an attempt.
   */
  readonly giveBack?: ((msg: Msg) => Promise<void>) | undefined;
  /**
   * How long after a disconnect the leases of held messages are given up (ack_wait minus one
   * progress interval); with the reason the lease signals carry.
   */
  readonly lease?:
    | {
        /** Longest a held message stays leased after the server was last heard from (ms). */
        readonly afterMs: number;
        readonly reason: () => Error;
        /** When the connection last proved alive otherwise (epoch ms; e.g. a PING answered). */
        readonly heardAt: () => number;
      }
    | undefined;
}

/**
 * A pull-consumer loop with exact backpressure, on the raw JetStream pull protocol: it asks the
 * server (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`) for exactly as many messages as it has free
 * slots (held messages plus what outstanding requests may still bring never exceed the prefetch), at
 * most {@link MAX_REQUESTS} requests at a time, each request on its own inbox so an abandoned request has no
 * interest left and the server stops serving it. Messages held by the owner get `+WPI` progress acks
 * so a slow handler (or one queued behind a key) keeps its lease. After a disconnect the loop simply
 * asks again once the client has reconnected.
 */
export class Receiver {
  readonly #o: ReceiverOptions;
  readonly #held = new Set<Msg>();
  readonly #draining = new Set<Promise<void>>();
  #lease = new AbortController();
  readonly #leaseLost = new WeakSet<Msg>();
  /** When a message or heartbeat last arrived (epoch ms). */
  #heardAt = Date.now();
  #leaseTimer: NodeJS.Timeout | undefined;
  /** Pull requests the server may still be serving (at most {@link MAX_REQUESTS}). */
  readonly #requests = new Set<PullRequest>();
  #stopped = false;
  #abandoned = false;
  #pausedUntil = 0;
  #wakeTimer: NodeJS.Timeout | undefined;
  readonly #progressTimer: NodeJS.Timeout;

  constructor(options: ReceiverOptions) {
    this.#o = options;
    this.#progressTimer = setInterval(() => this.#progress(), options.progressEveryMs);
    this.#progressTimer.unref();
  }

  /** Whether `stop()` was called. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Work `close()` waits for (bounded), such as giving back a message that arrived too late. */
  track(work: Promise<void>): void {
    const tracked = work.catch(() => {});
    this.#draining.add(tracked);
    void tracked.finally(() => this.#draining.delete(tracked));
  }

  /** Start (or resume after a reconnect) asking for messages. */
  pump(): void {
    if (this.#stopped || this.#requests.size >= MAX_REQUESTS) return;
    if (this.#o.nc.isClosed() || !this.#o.connected()) return;
    let asked = 0;
    for (const request of this.#requests) asked += request.remaining;
    const free = this.#o.prefetch - this.#held.size - asked;
    // a second request only for a worthwhile batch: it keeps the server serving while the first
    // one's last messages are in flight and the next request is on its way
    if (free <= 0 || (this.#requests.size > 0 && free < Math.ceil(this.#o.prefetch / 2))) return;
    const wait = this.#pausedUntil - Date.now();
    if (wait > 0) {
      this.#wakeTimer ??= setTimeout(() => {
        this.#wakeTimer = undefined;
        this.pump();
      }, wait);
      return;
    }
    this.#issue(free);
  }

  #issue(batch: number): void {
    const inbox = createInbox();
    let request: PullRequest | undefined;
    let sub: Subscription;
    try {
      sub = this.#o.nc.subscribe(inbox, {
        callback: (err, msg) => request && this.#onMsg(request, err, msg),
      });
      let finish = () => {};
      const over = new Promise<void>((resolve) => {
        finish = resolve;
      });
      request = {
        sub,
        remaining: batch,
        received: 0,
        ended: false,
        over,
        finish,
        call: this.#o.onReceive?.(),
        // watchdog: refreshed by every message and heartbeat of this request
        timer: setTimeout(() => {
          if (!request || request.ended) return;
          this.#end(request, true);
          if (!this.#stopped) this.#o.onSilence?.();
        }, PULL_SILENCE_MS),
      };
      this.#requests.add(request);
      this.#o.nc.publish(
        `$JS.API.CONSUMER.MSG.NEXT.${this.#o.stream}.${this.#o.consumer}`,
        JSON.stringify({ batch, expires: nanos(PULL_EXPIRES_MS), idle_heartbeat: nanos(PULL_HEARTBEAT_MS) }),
        { reply: inbox },
      );
    } catch {
      // closed or draining connection: nothing to pull from
      if (request) this.#end(request, true);
    }
  }

  #onMsg(request: PullRequest, err: Error | null, msg: Msg): void {
    if (this.#abandoned) return; // a crash stand-in: nothing is given back
    if (request.ended) {
      // a late message of an abandoned request: give it back at once
      if (!err && msg.reply) this.#giveBack(msg);
      return;
    }
    if (err) {
      this.#end(request, true);
      return;
    }
    request.timer.refresh();
    this.#heardAt = Date.now();
    if (!msg.reply) {
      // a status: 100 heartbeat, 404/408 nothing (more) to deliver, 409 limits or consumer gone, 503 no JetStream
      const code = msg.headers?.code ?? 0;
      if (code === 100) return;
      this.#end(request, code !== 404 && code !== 408);
      return;
    }
    request.remaining--;
    request.received++;
    if (request.remaining <= 0) this.#end(request, false);
    if (this.#stopped) {
      this.#giveBack(msg);
      return;
    }
    this.#held.add(msg);
    let done = false;
    const handOut = () =>
      this.#o.onMessage({
        msg,
        lease: this.#lease.signal,
        done: () => {
          if (done) return;
          done = true;
          this.#held.delete(msg);
          this.pump();
        },
        receive: request.call,
      });
    if (request.call) request.call.handOut(handOut);
    else handOut();
  }

  /**
   * End a pull request. `drain` when this side abandons a request the server may still be serving
   * (`close()` past its bound): the server may have sent messages for it before it saw the UNSUB;
   * drain keeps the callback until a PING round trip proves none is left in flight, and the callback
   * gives each such late message back at once (a dropped one would wait out ack_wait; one the server
   * was sending as the UNSUB arrived is lost and counted, which is why `stop()` does not abandon). A request the server ended
   * (batch complete, 404/408/409 status) or a lost connection needs no round trip: unsubscribe.
   */
  #end(request: PullRequest, failed: boolean, drain = false): void {
    if (request.ended) return;
    request.ended = true;
    request.finish();
    clearTimeout(request.timer);
    request.call?.end(
      request.received,
      failed && request.received === 0
        ? fail('CONNECTION', 'JetStream pull request failed (error status, no answer, or connection lost)')
        : undefined,
    );
    if (!drain || this.#o.nc.isClosed()) {
      try {
        request.sub.unsubscribe();
      } catch {
        // connection already closed
      }
    } else {
      const drained = request.sub.drain().catch(() => {
        // connection closed meanwhile: the server redelivers what was in flight after ack_wait
      });
      this.#draining.add(drained);
      void drained.finally(() => this.#draining.delete(drained));
    }
    this.#requests.delete(request);
    if (failed && request.received === 0) this.#pausedUntil = Date.now() + FAILURE_BACKOFF_MS;
    queueMicrotask(() => this.pump());
  }

  #giveBack(msg: Msg): void {
    // not given back (the promise rejects): the server redelivers it after ack_wait
    this.track((this.#o.giveBack ?? (async (m: Msg) => this.#safeRespond(m, NAK)))(msg));
  }

  #safeRespond(msg: Msg, payload: Uint8Array): void {
    try {
      msg.respond(payload);
    } catch {
      // connection closed: the server redelivers after ack_wait
    }
  }

  #progress(): void {
    if (this.#o.nc.isClosed()) return;
    for (const msg of this.#held) if (!this.#leaseLost.has(msg)) this.#safeRespond(msg, WPI);
  }

  /** The connection dropped: abandon the current request (the loop asks again after reconnecting). */
  disconnected(): void {
    for (const request of [...this.#requests]) this.#end(request, true);
    const lease = this.#o.lease;
    if (lease && !this.#leaseTimer) {
      // measured from when the server was last heard from: the silence before a disconnect is
      // noticed already counts against ack_wait
      const heard = Math.max(this.#heardAt, lease.heardAt());
      this.#leaseTimer = setTimeout(
        () => {
          this.#leaseTimer = undefined;
          // every message held now is past its ack_wait at the server; later ones get a new lease
          const lost = this.#lease;
          this.#lease = new AbortController();
          // no more +WPI for them: a progress ack after the reconnect would renew the lease at the
          // server while the member already gave it up, and the message would never be redelivered
          for (const msg of this.#held) this.#leaseLost.add(msg);
          lost.abort(lease.reason());
        },
        Math.max(0, heard + lease.afterMs - Date.now()),
      );
    }
  }

  /** The connection is back: held messages keep their leases (`+WPI` reaches the server again). */
  reconnected(): void {
    this.#heardAt = Date.now();
    if (this.#leaseTimer) clearTimeout(this.#leaseTimer);
    this.#leaseTimer = undefined;
    this.pump();
  }

  /**
   * Stop asking; messages that still arrive are given back (`-NAK`). Held messages stay settleable.
   * The outstanding pull request keeps its inbox until the server ends it (batch complete, or a 408
   * status at expiry, within {@link PULL_EXPIRES_MS}): a request abandoned by unsubscribing can lose
   * a message the server was sending at that moment, and the server counts that lost delivery as an
   * attempt (found by the contract case "close right after subscribe resolves").
   */
  stop(): void {
    this.#stopped = true;
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    this.#wakeTimer = undefined;
  }

  /** Stop at once without giving anything back (the connection is being dropped). */
  abandon(): void {
    this.#abandoned = true;
    this.#stopped = true;
    for (const request of this.#requests) {
      request.ended = true;
      clearTimeout(request.timer);
      request.call?.end(request.received);
    }
    this.#requests.clear();
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    if (this.#leaseTimer) clearTimeout(this.#leaseTimer);
    clearInterval(this.#progressTimer);
    this.#held.clear();
  }

  /**
   * Stop, and stop the progress heartbeats of held messages. Resolves once the outstanding pull
   * request ended at the server and every message it brought was given back (`-NAK`, recorded as a
   * release), within {@link CLOSE_DRAIN_LIMIT_MS}; past that the request is abandoned (drained).
   */
  async close(): Promise<void> {
    this.stop();
    if (this.#leaseTimer) clearTimeout(this.#leaseTimer);
    clearInterval(this.#progressTimer);
    this.#held.clear();
    if (this.#o.nc.isClosed()) for (const request of [...this.#requests]) this.#end(request, false);
    // bounded: on a silent connection neither the request's end nor a drain's PING round trip comes
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      (async () => {
        while (this.#requests.size > 0 || this.#draining.size > 0) {
          await Promise.all([...this.#requests].map((request) => request.over));
          await Promise.all([...this.#draining]);
        }
      })(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_DRAIN_LIMIT_MS);
      }),
    ]);
    clearTimeout(timer);
    for (const request of [...this.#requests]) this.#end(request, false, true);
  }
}
