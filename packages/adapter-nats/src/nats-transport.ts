import {
  type Capabilities,
  CarrierError,
  type CarrierErrorCode,
  type DeadLetterDelivery,
  type DeadLetterInfo,
  type Delivery,
  type PublishFailure,
  type Transport,
  type TransportFactoryOptions,
  type TransportSubscribeOptions,
  type TransportSubscription,
  type WireMessage,
} from '@carrier/core';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type MsgRequest,
  type PubAck,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import {
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  nanos,
  headers as natsHeaders,
} from '@nats-io/transport-node';
import { connectWithDeadline } from './dial.js';
import {
  consumerName,
  deadLetterStream,
  deadLetterSubject,
  deadLetterWildcard,
  RELEASES_STREAM,
  RELEASES_WILDCARD,
  redriveSubject,
  redriveWildcard,
  releaseSubject,
  topicStream,
  topicSubject,
} from './names.js';
import { ACK, NAK, nakWithDelay, type Pulled, Puller, TERM } from './puller.js';
import type { NatsSettings } from './url.js';
import {
  decodeDeadLetterInfo,
  decodeMessage,
  encodeDeadLetterHeaders,
  encodeHeaders,
  type HeaderEntries,
  headerBytes,
  MAX_REASON_CHARS,
  needsEncoding,
  parseAckSubject,
} from './wire.js';

const TRANSPORT = 'nats';
/** Bytes of `max_payload` kept back for Carrier's headers (and dead-letter metadata) in `maxMessageBytes`. */
export const HEADER_RESERVE_BYTES = 8 * 1024;
/** Longest retry delay declared (the server takes any int64 ns; this matches core's timer-based transports). */
export const MAX_DELAY_MS = 2 ** 31 - 1;
/** Most publishes awaiting their PubAck at once, per publish call. */
const PUBLISH_WINDOW = 512;
/** The oldest nats-server that has everything used here (multiple filter subjects). */
const MIN_SERVER = [2, 10, 0] as const;
/**
 * After a pull request missed its heartbeats, how long a PING may wait for its PONG before the
 * connection is declared dead and a reconnect is forced.
 */
export const LIVENESS_PROBE_MS = 5_000;

const API = {
  streamNotFound: 10059,
  consumerNotFound: 10014,
  streamNameInUse: 10058,
  consumerExists: 10148,
  consumerAlreadyExists: 10105,
  noMessageFound: 10037,
} as const;

function apiCode(error: unknown): number | undefined {
  return error instanceof JetStreamApiError ? error.code : undefined;
}

function fail(code: CarrierErrorCode, message: string, cause?: unknown): CarrierError {
  return new CarrierError(code, message, { transport: TRANSPORT, cause });
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || /timeout/i.test(error.message));
}

/** `Nats-Msg-Id` of a Carrier id: the id itself, percent-encoded if a header line could not hold it. */
function msgIdOf(id: string): string {
  return needsEncoding(id) ? encodeURIComponent(id) : id;
}

function toHeaders(entries: HeaderEntries): MsgHdrs {
  const h = natsHeaders();
  for (const [name, value] of entries) h.append(name, value);
  return h;
}

/** What a pulled message says: the Carrier message, its place in the stream and the server's delivery count. */
interface Received {
  readonly wire: WireMessage;
  readonly meta: ReadonlyMap<string, string>;
  readonly stream: string;
  readonly seq: number;
  /** The server's delivery count (releases included). */
  readonly attempt: number;
}

/** Destroy the client's socket (an internal of nats.js; best effort): the client then reconnects. */
function destroySocket(nc: NatsConnection): void {
  const transport = (nc as unknown as { protocol?: { transport?: { socket?: unknown } } }).protocol
    ?.transport;
  const socket = transport?.socket as { destroy?: (error?: Error) => void } | undefined;
  socket?.destroy?.(new Error('silent connection'));
}

function versionAtLeast(version: string, min: readonly number[]): boolean {
  const parts = version.replace(/^v/, '').split(/[.-]/).map(Number);
  for (let i = 0; i < min.length; i++) {
    const p = parts[i] ?? 0;
    if (Number.isNaN(p)) return true;
    if (p !== min[i]) return p > min[i]!;
  }
  return true;
}

/**
 * Carrier over NATS JetStream. Topology (see docs/brokers/nats.md): one file-backed stream per
 * topic on `carrier.<topic>` (plus per-group redrive subjects), a durable pull consumer per group
 * (explicit ack, filtered on the topic subject and the group's redrive subject), and one
 * dead-letter stream per topic with a durable consumer per group. Publishes resolve on PubAck and
 * carry `Nats-Msg-Id` = the Carrier id, so a retried publish is de-duplicated by the server.
 */
export class NatsTransport implements Transport {
  readonly name = TRANSPORT;
  readonly capabilities: Capabilities;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #settings: NatsSettings;
  readonly #onError: (error: Error) => void;
  readonly #maxPayload: number;
  readonly #streams = new Map<string, Promise<void>>();
  readonly #consumers = new Map<string, Promise<void>>();
  readonly #pullers = new Set<Puller>();
  #closed = false;
  #connected = true;
  /** When the connection last proved alive by an answered PING (epoch ms). */
  #heardAt = Date.now();
  /** How many times the connection was lost so far. */
  #disconnects = 0;
  /** A liveness check is running. */
  #probing = false;
  /** The liveness check forced the current disconnect (already reported). */
  #forced = false;

  /** @internal Use {@link createNatsTransport}. */
  constructor(
    nc: NatsConnection,
    jsm: JetStreamManager,
    settings: NatsSettings,
    options: TransportFactoryOptions,
  ) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = jetstream(nc, { timeout: settings.requestTimeoutMs });
    this.#settings = settings;
    this.#onError = options.onError;
    this.#maxPayload = nc.info?.max_payload ?? 1024 * 1024;
    this.capabilities = {
      fanOut: true,
      competingConsumers: true,
      perKeyOrder: false,
      nativeDelay: true,
      maxDelayMs: MAX_DELAY_MS,
      maxMessageBytes: Math.max(1, this.#maxPayload - HEADER_RESERVE_BYTES),
      redrive: true,
    };
    void this.#watchStatus();
  }

  async #watchStatus(): Promise<void> {
    for await (const s of this.#nc.status()) {
      if (s.type === 'ping' && s.pendingPings === 1) {
        // every earlier PING was answered: the server was heard within the last interval
        this.#heardAt = Math.max(this.#heardAt, Date.now() - this.#settings.pingIntervalMs);
      } else if (s.type === 'disconnect') {
        this.#disconnects++;
        this.#connected = false;
        for (const p of this.#pullers) p.disconnected();
        // a reconnect the liveness check forced was reported when it was decided
        if (!this.#closed && !this.#forced)
          this.#onError(fail('CONNECTION', 'lost the connection to nats-server; reconnecting'));
        this.#forced = false;
      } else if (s.type === 'reconnect') {
        this.#connected = true;
        this.#heardAt = Date.now();
        for (const p of this.#pullers) p.reconnected();
      }
    }
  }

  /**
   * A pull request missed its heartbeats: PING the server. Without a PONG within
   * {@link LIVENESS_PROBE_MS} the connection is silent (half-open): report `CONNECTION` and force a
   * reconnect, after which every puller asks again. (The client's own PINGs, `pingIntervalMs` ×
   * `maxPingOut`, catch a silent connection when no pull request is waiting.)
   */
  async #checkLiveness(): Promise<void> {
    if (this.#probing || this.#closed || !this.#connected || this.#nc.isClosed()) return;
    this.#probing = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      const alive = await Promise.race([
        // a rejected flush means the connection is already going down: the status loop reports it
        this.#nc.flush().then(
          () => true,
          () => true,
        ),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), LIVENESS_PROBE_MS);
        }),
      ]);
      if (alive || this.#closed || !this.#connected || this.#nc.isClosed()) return;
      this.#forced = true;
      this.#onError(
        fail(
          'CONNECTION',
          `the connection to nats-server is silent (no pull heartbeat, no PONG within ${LIVENESS_PROBE_MS} ms); reconnecting`,
        ),
      );
      const before = this.#disconnects;
      await this.#nc.reconnect();
      // the client first flushes its write buffer, which may never drain on a dead socket: end it
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      if (this.#disconnects === before && !this.#closed) destroySocket(this.#nc);
    } catch {
      // closed meanwhile
    } finally {
      clearTimeout(timer);
      this.#probing = false;
    }
  }

  /**
   * The underlying nats.js connection, for native access (core NATS, KV, object store, …). Carrier
   * owns its lifecycle: do not close or drain it yourself.
   */
  get connection(): NatsConnection {
    return this.#nc;
  }

  /** A JetStream manager on the same connection (streams, consumers, direct gets). */
  get manager(): JetStreamManager {
    return this.#jsm;
  }

  #ensureOpen(): void {
    if (this.#closed || this.#nc.isClosed()) throw fail('CLOSED', 'nats connection is closed');
  }

  // ------------------------------------------------------------------ topology

  #once(cache: Map<string, Promise<void>>, key: string, create: () => Promise<void>): Promise<void> {
    let p = cache.get(key);
    if (!p) {
      p = create().catch((error: unknown) => {
        cache.delete(key);
        throw error;
      });
      cache.set(key, p);
    }
    return p;
  }

  async #ensureStream(
    name: string,
    subjects: string[],
    retention: RetentionPolicy,
    maxAgeMs: number,
    what: string,
    extra: Partial<StreamConfig> = {},
  ) {
    const config: Partial<StreamConfig> & { name: string } = {
      ...extra,
      name,
      description: what,
      subjects,
      storage: StorageType.File,
      retention,
      num_replicas: this.#settings.replicas,
      discard: DiscardPolicy.Old,
      max_age: nanos(maxAgeMs),
    };
    const check = async () => {
      const info = await this.#jsm.streams.info(name);
      const missing = subjects.filter((s) => !info.config.subjects?.includes(s));
      if (missing.length > 0) {
        throw fail('TOPOLOGY_CONFLICT', `stream ${name} exists without the subjects ${missing.join(', ')}`);
      }
    };
    try {
      await check();
      return;
    } catch (error) {
      if (apiCode(error) !== API.streamNotFound) throw this.#wrap(error, `cannot inspect stream ${name}`);
    }
    try {
      await this.#jsm.streams.add(config);
    } catch (error) {
      // another client created it meanwhile (possibly with other settings): use it if it fits
      if (apiCode(error) === API.streamNameInUse) return check();
      throw this.#refused(error, `cannot create stream ${name}`);
    }
  }

  #topicStream(topic: string): Promise<void> {
    const name = topicStream(topic);
    return this.#once(this.#streams, name, () =>
      this.#ensureStream(
        name,
        [topicSubject(topic), redriveWildcard(topic)],
        this.#settings.retention === 'interest' ? RetentionPolicy.Interest : RetentionPolicy.Limits,
        this.#settings.maxAgeMs,
        `Carrier topic ${topic}`,
      ),
    );
  }

  #deadLetterStream(topic: string): Promise<void> {
    const name = deadLetterStream(topic);
    return this.#once(this.#streams, name, () =>
      this.#ensureStream(
        name,
        [deadLetterWildcard(topic)],
        RetentionPolicy.Limits,
        this.#settings.deadLetterMaxAgeMs,
        `Carrier dead letters of topic ${topic}`,
      ),
    );
  }

  /** The stream of release records (created on the first release). */
  #releasesStream(): Promise<void> {
    return this.#once(this.#streams, RELEASES_STREAM, () =>
      this.#ensureStream(
        RELEASES_STREAM,
        [RELEASES_WILDCARD],
        RetentionPolicy.Limits,
        0,
        'Carrier release records: deliveries given back unprocessed, not to be counted as attempts',
        { max_msgs_per_subject: 1, allow_direct: true },
      ),
    );
  }

  async #ensureConsumer(stream: string, name: string, filters: string[], deliverAll: boolean, what: string) {
    const want = {
      durable_name: name,
      name,
      description: what,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(this.#settings.ackWaitMs),
      max_ack_pending: this.#settings.maxAckPending,
      max_deliver: -1,
      deliver_policy: deliverAll ? DeliverPolicy.All : DeliverPolicy.New,
      replay_policy: ReplayPolicy.Instant,
      ...(filters.length === 1 ? { filter_subject: filters[0] } : { filter_subjects: filters }),
    };
    try {
      await this.#jsm.consumers.info(stream, name);
      return;
    } catch (error) {
      if (apiCode(error) !== API.consumerNotFound)
        throw this.#wrap(error, `cannot inspect consumer ${stream}/${name}`);
    }
    try {
      await this.#jsm.consumers.add(stream, want);
    } catch (error) {
      const code = apiCode(error);
      if (code === API.consumerExists || code === API.consumerAlreadyExists) return;
      throw this.#refused(error, `cannot create consumer ${stream}/${name}`);
    }
  }

  async #raiseMaxAckPending(stream: string, name: string, prefetch: number): Promise<void> {
    const info = await this.#jsm.consumers.info(stream, name);
    if (
      info.config.max_ack_pending !== undefined &&
      info.config.max_ack_pending >= 0 &&
      info.config.max_ack_pending < prefetch
    ) {
      await this.#jsm.consumers.update(stream, name, { max_ack_pending: prefetch });
    }
  }

  #group(topic: string, group: string): Promise<void> {
    const stream = topicStream(topic);
    const name = consumerName(group);
    return this.#once(this.#consumers, `${stream}/${name}`, async () => {
      await this.#topicStream(topic);
      await this.#ensureConsumer(
        stream,
        name,
        [topicSubject(topic), redriveSubject(topic, group)],
        false,
        `Carrier group ${group} of topic ${topic}`,
      );
    });
  }

  #deadLetterGroup(topic: string, group: string): Promise<void> {
    const stream = deadLetterStream(topic);
    const name = consumerName(group);
    return this.#once(this.#consumers, `${stream}/${name}`, async () => {
      await this.#deadLetterStream(topic);
      await this.#ensureConsumer(
        stream,
        name,
        [deadLetterSubject(topic, group)],
        true,
        `Carrier dead letters of group ${group} of topic ${topic}`,
      );
    });
  }

  async declare(topic: string, groups: readonly string[]): Promise<void> {
    this.#ensureOpen();
    await this.#topicStream(topic);
    if (groups.length > 0) await this.#deadLetterStream(topic);
    await Promise.all(groups.flatMap((g) => [this.#group(topic, g), this.#deadLetterGroup(topic, g)]));
  }

  /** The server refused to create an object (e.g. its subjects overlap another stream's): `TOPOLOGY_CONFLICT`. */
  #refused(error: unknown, what: string): CarrierError {
    if (error instanceof JetStreamApiError)
      return fail('TOPOLOGY_CONFLICT', `${what}: ${error.message}`, error);
    return this.#wrap(error, what);
  }

  #wrap(error: unknown, what: string): CarrierError {
    if (error instanceof CarrierError) return error;
    if (this.#closed) return fail('CLOSED', `${what}: the connection is closed`, error);
    const detail = error instanceof Error ? error.message : String(error);
    return fail(isTimeout(error) ? 'TIMEOUT' : 'CONNECTION', `${what}: ${detail}`, error);
  }

  // ------------------------------------------------------------------ publish

  #checkSize(entries: HeaderEntries, body: Uint8Array, msgId: string | undefined): void {
    const size = headerBytes(entries, msgId) + body.byteLength;
    if (size > this.#maxPayload) {
      throw fail(
        'MESSAGE_TOO_LARGE',
        `message of ${size} bytes with its NATS headers exceeds the server's max_payload of ${this.#maxPayload}`,
      );
    }
  }

  async #publishOne(
    subject: string,
    stream: string,
    body: Uint8Array,
    entries: HeaderEntries,
    msgId: string,
  ): Promise<PubAck> {
    return this.#js.publish(subject, body, {
      msgID: msgId,
      headers: toHeaders(entries),
      expect: { streamName: stream },
      timeout: this.#settings.requestTimeoutMs,
    });
  }

  async publish(topic: string, messages: readonly WireMessage[]): Promise<void> {
    this.#ensureOpen();
    const prepared = messages.map((m) => {
      const entries = encodeHeaders(m);
      this.#checkSize(entries, m.body, msgIdOf(m.id));
      return entries;
    });
    try {
      await this.#topicStream(topic);
    } catch (error) {
      // nothing was sent: every message of the batch is unconfirmed
      const cause = this.#wrap(error, `cannot publish to ${topic}`);
      throw new CarrierError(
        'PUBLISH_FAILED',
        `${messages.length} messages to ${topic} were not published: ${cause.message}`,
        {
          transport: TRANSPORT,
          failures: messages.map((m, index) => ({ index, id: m.id, error: cause })),
          cause,
        },
      );
    }
    const subject = topicSubject(topic);
    const stream = topicStream(topic);
    const failures: PublishFailure[] = [];
    let next = 0;
    const worker = async () => {
      for (;;) {
        const index = next++;
        if (index >= messages.length) return;
        const m = messages[index]!;
        try {
          await this.#publishOne(subject, stream, m.body, prepared[index]!, msgIdOf(m.id));
        } catch (error) {
          failures.push({ index, id: m.id, error: this.#wrap(error, `publish of ${m.id} not confirmed`) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PUBLISH_WINDOW, messages.length) }, worker));
    if (failures.length > 0) {
      // the stream may have been deleted behind Carrier's back: look again next time
      this.#streams.delete(stream);
      failures.sort((a, b) => a.index - b.index);
      throw new CarrierError(
        'PUBLISH_FAILED',
        `${failures.length} of ${messages.length} messages to ${topic} were not confirmed by JetStream: ${failures[0]!.error.message}`,
        { transport: TRANSPORT, failures, cause: failures[0]!.error },
      );
    }
  }

  // ------------------------------------------------------------------ consume

  /** Send an ack-protocol message and wait for the server to confirm it took it. */
  async #settle(pulled: Pulled, payload: Uint8Array, what: string): Promise<void> {
    pulled.done();
    if (this.#nc.isClosed()) throw fail('CLOSED', `${what}: the connection is closed`);
    try {
      await this.#nc.request(pulled.msg.reply!, payload, { timeout: this.#settings.requestTimeoutMs });
    } catch (error) {
      throw this.#wrap(error, what);
    }
  }

  #startPuller(
    stream: string,
    consumer: string,
    prefetch: number,
    onMessage: (pulled: Pulled, puller: Puller) => void,
    giveBack?: (msg: Msg) => Promise<void>,
  ): TransportSubscription {
    const progressEveryMs = Math.max(250, Math.floor(this.#settings.ackWaitMs / 3));
    const puller: Puller = new Puller({
      nc: this.#nc,
      stream,
      consumer,
      prefetch,
      progressEveryMs,
      connected: () => this.#connected,
      onMessage: (pulled) => onMessage(pulled, puller),
      onSilence: () => void this.#checkLiveness(),
      giveBack,
      lease: {
        heardAt: () => this.#heardAt,
        afterMs: Math.max(0, this.#settings.ackWaitMs - progressEveryMs),
        reason: () =>
          fail(
            'LEASE_LOST',
            `nats-server not heard from for longer than ack_wait (${this.#settings.ackWaitMs} ms): it redelivers what this member held`,
          ),
      },
    });
    this.#pullers.add(puller);
    puller.pump();
    return {
      stop: async () => {
        puller.stop();
      },
      close: async () => {
        this.#pullers.delete(puller);
        await puller.close();
      },
    };
  }

  /**
   * Releases recorded for one delivery (see {@link NatsTransport.subscribe}): 0 when none, or when
   * the record belongs to another message (a stream deleted and re-created reuses sequences).
   */
  async #releasesOf(subject: string, id: string): Promise<number> {
    let stored: Awaited<ReturnType<JetStreamManager['streams']['getMessage']>>;
    try {
      stored = await this.#jsm.streams.getMessage(RELEASES_STREAM, { last_by_subj: subject });
    } catch (error) {
      const code = apiCode(error);
      if (code === API.streamNotFound || code === API.noMessageFound) return 0;
      throw this.#wrap(error, 'cannot read the release record');
    }
    if (!stored) return 0;
    try {
      const record = JSON.parse(new TextDecoder().decode(stored.data)) as {
        id?: unknown;
        releases?: unknown;
      };
      return record.id === id && typeof record.releases === 'number' ? record.releases : 0;
    } catch {
      return 0;
    }
  }

  /** Store that a delivery was released `releases` times in all (one confirmed publish). */
  async #recordRelease(subject: string, id: string, releases: number): Promise<void> {
    await this.#releasesStream();
    await this.#js.publish(subject, new TextEncoder().encode(JSON.stringify({ id, releases })), {
      expect: { streamName: RELEASES_STREAM },
      timeout: this.#settings.requestTimeoutMs,
    });
  }

  /** Forget the release record of a delivery that left the group (best effort: a leftover is ignored). */
  #forgetReleases(subject: string): void {
    this.#jsm.streams.purge(RELEASES_STREAM, { filter: subject }).catch(() => {});
  }

  /**
   * Give back a delivery unprocessed without charging an attempt: record the release, then `-NAK`
   * (which the server counts as a delivery). If the record cannot be stored the delivery is given
   * back anyway (its next delivery then counts one attempt more) and `onError` hears why.
   */
  async #release(pulled: Pulled, subject: string, id: string, releases: number): Promise<void> {
    try {
      await this.#recordRelease(subject, id, releases + 1);
    } catch (error) {
      this.#onError(
        this.#wrap(
          error,
          `release of ${id}: the release could not be recorded, its next delivery counts as an attempt`,
        ),
      );
    }
    await this.#settle(pulled, NAK, `release of ${id}`);
  }

  #received(pulled: Pulled): Received {
    const { msg } = pulled;
    const ack = parseAckSubject(msg.reply ?? '');
    const stream = ack?.stream ?? '';
    const seq = ack?.streamSequence ?? 0;
    const { message, meta } = decodeMessage(msg.headers, msg.data.slice(), {
      stream,
      sequence: seq,
      timestamp: new Date(ack?.timestampMs ?? Date.now()),
    });
    return { wire: message, meta, stream, seq, attempt: ack?.deliveryCount ?? 1 };
  }

  async subscribe(
    topic: string,
    group: string,
    options: TransportSubscribeOptions,
    sink: (delivery: Delivery) => void,
  ): Promise<TransportSubscription> {
    this.#ensureOpen();
    if (options.ordered) throw fail('UNSUPPORTED', 'nats cannot keep per-key order across a group');
    await this.declare(topic, [group]);
    const stream = topicStream(topic);
    const consumer = consumerName(group);
    try {
      await this.#raiseMaxAckPending(stream, consumer, options.prefetch);
    } catch (error) {
      throw this.#wrap(error, `cannot update consumer ${stream}/${consumer}`);
    }
    const giveBack = async (msg: Msg): Promise<void> => {
      const pulled: Pulled = { msg, done: () => {} };
      let received: Received;
      try {
        received = this.#received(pulled);
      } catch {
        msg.respond(NAK);
        return;
      }
      const subject = releaseSubject(stream, consumer, received.seq);
      const releases =
        received.attempt > 1 ? await this.#releasesOf(subject, received.wire.id).catch(() => 0) : 0;
      await this.#release(pulled, subject, received.wire.id, releases);
    };
    return this.#startPuller(
      stream,
      consumer,
      options.prefetch,
      (pulled, puller) => {
        const received = this.#received(pulled);
        const subject = releaseSubject(stream, consumer, received.seq);
        if (received.attempt <= 1) {
          this.#deliver(topic, group, pulled, received, subject, 0, sink);
          return;
        }
        // a redelivery: the server counted every delivery, releases included; subtract those
        puller.track(
          this.#releasesOf(subject, received.wire.id)
            .catch((error: unknown) => {
              this.#onError(
                this.#wrap(
                  error,
                  `cannot tell whether ${received.wire.id} was released; its attempt may count releases`,
                ),
              );
              return 0;
            })
            .then((releases) => {
              if (puller.stopped) {
                pulled.done();
                return this.#release(pulled, subject, received.wire.id, releases);
              }
              this.#deliver(topic, group, pulled, received, subject, releases, sink);
            }),
        );
      },
      giveBack,
    );
  }

  #deliver(
    topic: string,
    group: string,
    pulled: Pulled,
    received: Received,
    releaseRecord: string,
    releases: number,
    sink: (delivery: Delivery) => void,
  ): void {
    const { wire, seq, stream } = received;
    const attempt = Math.max(1, received.attempt - releases);
    const forget = () => {
      if (releases > 0) this.#forgetReleases(releaseRecord);
    };
    sink({
      message: wire,
      attempt,
      lease: pulled.lease,
      ack: async () => {
        await this.#settle(pulled, ACK, `ack of ${wire.id}`);
        forget();
      },
      retry: async (delayMs) => {
        await this.#settle(pulled, nakWithDelay(delayMs), `retry of ${wire.id}`);
      },
      release: () => this.#release(pulled, releaseRecord, wire.id, releases),
      deadLetter: async (info) => {
        try {
          await this.#publishDeadLetter(topic, group, wire, info, `${stream}:${seq}`);
        } catch (error) {
          // give the delivery back (after a second) so it is redelivered and dead-lettered again
          pulled.done();
          try {
            pulled.msg.respond(nakWithDelay(1_000));
          } catch {
            // closed: the server redelivers after ack_wait
          }
          throw error;
        }
        // term() without a reason: before server 2.11 a reason makes the server ignore the term
        await this.#settle(pulled, TERM, `dead letter of ${wire.id}`);
        forget();
      },
    });
  }

  async #publishDeadLetter(
    topic: string,
    group: string,
    wire: WireMessage,
    info: DeadLetterInfo,
    source: string,
  ) {
    const msgId = `carrier-dlq:${source}:${consumerName(group)}`;
    let reasonChars = MAX_REASON_CHARS;
    let entries = encodeDeadLetterHeaders(wire, info, group, source, reasonChars);
    while (headerBytes(entries, msgId) + wire.body.byteLength > this.#maxPayload && reasonChars > 0) {
      reasonChars = Math.floor(reasonChars / 2);
      entries = encodeDeadLetterHeaders(wire, info, group, source, reasonChars);
    }
    try {
      await this.#publishOne(
        deadLetterSubject(topic, group),
        deadLetterStream(topic),
        wire.body,
        entries,
        msgId,
      );
    } catch (error) {
      throw this.#wrap(error, `dead letter of ${wire.id} not stored`);
    }
  }

  async subscribeDeadLetters(
    topic: string,
    group: string,
    options: Pick<TransportSubscribeOptions, 'prefetch'>,
    sink: (delivery: DeadLetterDelivery) => void,
  ): Promise<TransportSubscription> {
    this.#ensureOpen();
    await this.declare(topic, [group]);
    const stream = deadLetterStream(topic);
    return this.#startPuller(stream, consumerName(group), options.prefetch, (pulled) => {
      const { wire, meta, seq } = this.#received(pulled);
      sink({
        message: wire,
        info: decodeDeadLetterInfo(meta, wire.publishedAt),
        ack: async () => {
          // removing means deleting it from the dead-letter stream, then acking the delivery
          await this.#deleteDeadLetter(stream, seq);
          await this.#settle(pulled, ACK, `ack of dead letter ${wire.id}`);
        },
        release: async () => {
          await this.#settle(pulled, NAK, `release of dead letter ${wire.id}`);
        },
      });
    });
  }

  async #deleteDeadLetter(stream: string, seq: number): Promise<void> {
    try {
      await this.#jsm.streams.deleteMessage(stream, seq, false);
    } catch (error) {
      if (apiCode(error) === API.noMessageFound) return; // already gone (redriven meanwhile)
      throw this.#wrap(error, `cannot delete dead letter ${stream}:${seq}`);
    }
  }

  async redrive(topic: string, group: string, max: number): Promise<number> {
    this.#ensureOpen();
    await this.declare(topic, [group]);
    const dlq = deadLetterStream(topic);
    const subject = deadLetterSubject(topic, group);
    let moved = 0;
    let from = 1;
    while (moved < max) {
      let stored: Awaited<ReturnType<JetStreamManager['streams']['getMessage']>>;
      try {
        const query = { seq: from, next_by_subj: subject } as unknown as MsgRequest;
        stored = await this.#jsm.streams.getMessage(dlq, query);
      } catch (error) {
        throw this.#wrap(error, `cannot read dead letters of ${topic}/${group}`);
      }
      if (!stored) break;
      const { message } = decodeMessage(stored.header, stored.data, {
        stream: dlq,
        sequence: stored.seq,
        timestamp: stored.time,
      });
      try {
        // a new message on the group's own redrive subject: attempt 1, no other group sees it;
        // the msgID makes a repeated redrive of the same dead letter a server-side duplicate
        await this.#publishOne(
          redriveSubject(topic, group),
          topicStream(topic),
          message.body,
          encodeHeaders(message),
          `carrier-redrive:${dlq}:${stored.seq}`,
        );
      } catch (error) {
        throw this.#wrap(error, `redrive of ${message.id} not confirmed`);
      }
      await this.#deleteDeadLetter(dlq, stored.seq);
      moved++;
      from = stored.seq + 1;
    }
    return moved;
  }

  // ------------------------------------------------------------------ lifecycle

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // abandoned pull requests are drained first: what the server had already sent is given back
    await Promise.all([...this.#pullers].map((p) => p.close()));
    this.#pullers.clear();
    if (this.#nc.isClosed()) return;
    try {
      await this.#nc.drain();
    } catch {
      await this.#nc.close().catch(() => {});
    }
  }

  async abort(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#pullers) p.abandon();
    this.#pullers.clear();
    await this.#nc.close().catch(() => {});
  }
}

/**
 * Connect to nats-server and check that JetStream answers and the server is recent enough
 * (2.10+: consumers with several filter subjects).
 *
 * @throws CarrierError `CONNECTION` when no server can be reached or JetStream is not enabled,
 *   `UNSUPPORTED` for a server older than 2.10.
 */
export async function createNatsTransport(
  settings: NatsSettings,
  options: TransportFactoryOptions,
): Promise<NatsTransport> {
  // the factory option wins (core resolves ConnectOptions, then the URL); else the URL, else 10 s
  const connectTimeoutMs = options.connectTimeoutMs ?? settings.connectTimeoutMs ?? 10_000;
  let nc: NatsConnection;
  try {
    nc = await connectWithDeadline({
      servers: [...settings.servers],
      user: settings.user,
      pass: settings.pass,
      token: settings.token,
      // undefined (not null): nats.js then upgrades to TLS whenever the server requires or offers it
      ...(settings.tls ? { tls: settings.tls } : {}),
      name: settings.name,
      timeout: connectTimeoutMs,
      pingInterval: settings.pingIntervalMs,
      maxPingOut: settings.maxPingOut,
      maxReconnectAttempts: -1,
      reconnectTimeWait: settings.reconnectWaitMs,
      waitOnFirstConnect: false,
    });
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw fail(
      isTimeout(cause) ? 'TIMEOUT' : 'CONNECTION',
      `cannot connect to nats-server (${settings.servers.join(', ')}): ${detail}`,
      cause,
    );
  }
  try {
    if (settings.tls && !nc.info?.tls_required && !nc.info?.tls_available) {
      // nats.js only upgrades when the server offers TLS: never fall back to plain text silently
      throw fail('CONNECTION', 'TLS was requested (?tls) but the nats-server does not offer TLS');
    }
    const version = nc.info?.version ?? '0.0.0';
    if (!versionAtLeast(version, MIN_SERVER)) {
      throw fail(
        'UNSUPPORTED',
        `nats-server ${version} is too old: Carrier needs ${MIN_SERVER.join('.')} or later`,
      );
    }
    let jsm: JetStreamManager;
    try {
      jsm = await jetstreamManager(nc, { timeout: settings.requestTimeoutMs });
    } catch (cause) {
      throw fail('CONNECTION', `JetStream does not answer on this nats-server (is it enabled, -js?)`, cause);
    }
    return new NatsTransport(nc, jsm, settings, options);
  } catch (error) {
    await nc.close().catch(() => {});
    throw error;
  }
}
