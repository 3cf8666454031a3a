import type { StartFrom } from '@carrier/core';
import { OncePerKey } from '@carrier/core/kit';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamUpdateConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { API, apiCode, fail, refused, replicasHint } from './errors.js';
import type { Link } from './link.js';
import {
  consumerName,
  deadLetterStream,
  deadLetterSubject,
  deadLetterWildcard,
  RELEASES_STREAM,
  RELEASES_WILDCARD,
  redriveSubject,
  redriveWildcard,
  SCHEDULES_CONSUMER,
  scheduleWildcard,
  topicStream,
  topicSubject,
} from './names.js';

/** What one stream is created with (see {@link Topology}). */
interface StreamSpec {
  readonly name: string;
  readonly subjects: string[];
  readonly retention: RetentionPolicy;
  /** `max_age` in ms; 0 = unlimited. */
  readonly maxAgeMs: number;
  /** The stream's description. */
  readonly what: string;
  readonly extra?: Partial<StreamConfig>;
}

/** What one durable consumer is created with (see {@link Topology}). */
interface ConsumerSpec {
  readonly stream: string;
  readonly name: string;
  readonly filters: string[];
  /** `deliver_policy: all` (dead letters, groups starting at `'earliest'`) instead of `new`. */
  readonly deliverAll: boolean;
  /** The start an existing consumer must have (absent: any). */
  readonly expect?: StartFrom | undefined;
  /** The consumer's description. */
  readonly what: string;
}

/**
 * Ensures Carrier's streams and consumers exist (docs/brokers/nats.md, "What Carrier creates"),
 * each once per transport: concurrent calls share one creation; a failed one is forgotten so the
 * next call tries again. Existing objects are used as they are if they fit (a stream must hold
 * Carrier's subjects); the server refusing one is `TOPOLOGY_CONFLICT`. Nothing is ever deleted.
 */
export class Topology {
  readonly #link: Link;
  readonly #streams = new OncePerKey<void>();
  readonly #consumers = new OncePerKey<string>();
  readonly #scheduling = new OncePerKey<void>();

  constructor(link: Link) {
    this.#link = link;
  }

  /**
   * The topic's stream, its dead-letter stream when `groups` is not empty, and each group's
   * consumer and dead-letter consumer. A new group's consumer starts where `startFrom` says
   * (`deliver_policy` `new` for `'now'` and absent, `all` for `'earliest'`); `startFrom` given and an
   * existing consumer with the other `deliver_policy` is a conflict.
   *
   * @throws CarrierError `TOPOLOGY_CONFLICT`, `CONNECTION`, `TIMEOUT` or `CLOSED`.
   */
  async declare(topic: string, groups: readonly string[], startFrom?: StartFrom): Promise<void> {
    await this.topicStream(topic);
    if (groups.length > 0) await this.#deadLetterStream(topic);
    await Promise.all(
      groups.flatMap((g) => [this.#group(topic, g, startFrom), this.#deadLetterGroup(topic, g)]),
    );
  }

  /** Stream `CARRIER_<topic>` on `carrier.<topic>` and the topic's redrive subjects. */
  topicStream(topic: string): Promise<void> {
    return this.#stream({
      name: topicStream(topic),
      subjects: [topicSubject(topic), redriveWildcard(topic)],
      retention:
        this.#link.settings.retention === 'interest' ? RetentionPolicy.Interest : RetentionPolicy.Limits,
      maxAgeMs: this.#link.settings.maxAgeMs,
      what: `Carrier topic ${topic}`,
    });
  }

  /**
   * Make the topic's stream take delayed messages (docs/brokers/nats.md, "Delayed publish"): its
   * schedule subjects and `allow_msg_schedules` (server 2.12+), added to a stream created without
   * them (a stream update keeps its messages; the server cannot turn schedules off again), and, on
   * a stream with interest retention, the consumer {@link SCHEDULES_CONSUMER} whose filter keeps
   * pending schedules stored. Once per topic and transport.
   *
   * @throws CarrierError `TOPOLOGY_CONFLICT` (the server refused the update), `CONNECTION`, `TIMEOUT`.
   */
  schedules(topic: string): Promise<void> {
    return this.#scheduling.run(topic, async () => {
      await this.topicStream(topic);
      const name = topicStream(topic);
      const wildcard = scheduleWildcard(topic);
      let config: StreamConfig;
      try {
        config = (await this.#link.jsm.streams.info(name)).config;
      } catch (error) {
        throw this.#link.wrap(error, `cannot inspect stream ${name}`);
      }
      const subjects = config.subjects ?? [];
      if (!config.allow_msg_schedules || !subjects.includes(wildcard)) {
        try {
          await this.#link.jsm.streams.update(name, {
            subjects: subjects.includes(wildcard) ? subjects : [...subjects, wildcard],
            allow_msg_schedules: true,
            allow_rollup_hdrs: true,
            deny_purge: false,
          } as Partial<StreamUpdateConfig>);
        } catch (error) {
          throw refused(error, `cannot enable message schedules on stream ${name}`, this.#link.wrap);
        }
      }
      if (config.retention !== RetentionPolicy.Limits) {
        await this.#consumer(async () => {}, {
          stream: name,
          name: SCHEDULES_CONSUMER,
          filters: [wildcard],
          deliverAll: true,
          what: `Carrier: keeps the pending delayed messages of topic ${topic} (never consumes)`,
        });
      }
    });
  }

  /** Look at the topic's stream again on its next use (it may have been deleted behind Carrier's back). */
  recheckTopic(topic: string): void {
    this.#streams.forget(topicStream(topic));
    this.#scheduling.forget(topic);
  }

  /** The stream of release records (created on the first release). */
  releasesStream(): Promise<void> {
    return this.#stream({
      name: RELEASES_STREAM,
      subjects: [RELEASES_WILDCARD],
      retention: RetentionPolicy.Limits,
      maxAgeMs: 0,
      what: 'Carrier release records: deliveries given back unprocessed, not to be counted as attempts',
      extra: { max_msgs_per_subject: 1, allow_direct: true },
    });
  }

  /** Raise a consumer's `max_ack_pending` to `prefetch` if it is lower (never lowers it). */
  async raiseMaxAckPending(stream: string, name: string, prefetch: number): Promise<void> {
    const info = await this.#link.jsm.consumers.info(stream, name);
    const current = info.config.max_ack_pending;
    if (current !== undefined && current >= 0 && current < prefetch) {
      await this.#link.jsm.consumers.update(stream, name, { max_ack_pending: prefetch });
    }
  }

  #deadLetterStream(topic: string): Promise<void> {
    return this.#stream({
      name: deadLetterStream(topic),
      subjects: [deadLetterWildcard(topic)],
      retention: RetentionPolicy.Limits,
      maxAgeMs: this.#link.settings.deadLetterMaxAgeMs,
      what: `Carrier dead letters of topic ${topic}`,
    });
  }

  #group(topic: string, group: string, startFrom: StartFrom | undefined): Promise<void> {
    const stream = async () => {
      await this.topicStream(topic);
      if (startFrom === 'earliest') await this.#retainsHistory(topic);
    };
    return this.#consumer(stream, {
      stream: topicStream(topic),
      name: consumerName(group),
      filters: [topicSubject(topic), redriveSubject(topic, group)],
      deliverAll: startFrom === 'earliest',
      expect: startFrom,
      what: `Carrier group ${group} of topic ${topic}`,
    });
  }

  /**
   * `'earliest'` needs a stream that keeps what every group has (limits retention). A stream that
   * exists with interest retention (created by a connection without `retention=limits`) keeps only
   * what existing groups have not acknowledged: a new group would silently get part of the history.
   *
   * @throws CarrierError `UNSUPPORTED` for a stream with interest (or work-queue) retention.
   */
  async #retainsHistory(topic: string): Promise<void> {
    const name = topicStream(topic);
    let retention: string;
    try {
      retention = (await this.#link.jsm.streams.info(name)).config.retention;
    } catch (error) {
      throw this.#link.wrap(error, `cannot inspect stream ${name}`);
    }
    if (retention !== RetentionPolicy.Limits) {
      throw fail(
        'UNSUPPORTED',
        `stream ${name} of topic ${topic} has ${retention} retention: it keeps no history for a new group, so it cannot start from earliest (only a stream created with retention=limits can; docs/brokers/nats.md)`,
      );
    }
  }

  #deadLetterGroup(topic: string, group: string): Promise<void> {
    return this.#consumer(() => this.#deadLetterStream(topic), {
      stream: deadLetterStream(topic),
      name: consumerName(group),
      filters: [deadLetterSubject(topic, group)],
      deliverAll: true,
      what: `Carrier dead letters of group ${group} of topic ${topic}`,
    });
  }

  #stream(spec: StreamSpec): Promise<void> {
    return this.#streams.run(spec.name, () => this.#ensureStream(spec));
  }

  async #consumer(stream: () => Promise<void>, spec: ConsumerSpec): Promise<void> {
    const policy = await this.#consumers.run(`${spec.stream}/${spec.name}`, async () => {
      await stream();
      return this.#ensureConsumer(spec);
    });
    if (spec.expect === undefined) return;
    const expected = spec.expect === 'earliest' ? DeliverPolicy.All : DeliverPolicy.New;
    if (policy !== expected) {
      throw fail(
        'TOPOLOGY_CONFLICT',
        `${spec.what} exists with deliver_policy ${policy}: it cannot start from ${spec.expect} (a group's start is fixed when it is created)`,
      );
    }
  }

  async #ensureStream(spec: StreamSpec): Promise<void> {
    const { name, subjects } = spec;
    const check = async () => {
      const info = await this.#link.jsm.streams.info(name);
      const missing = subjects.filter((s) => !info.config.subjects?.includes(s));
      if (missing.length > 0) {
        throw fail('TOPOLOGY_CONFLICT', `stream ${name} exists without the subjects ${missing.join(', ')}`);
      }
    };
    try {
      await check();
      return;
    } catch (error) {
      if (apiCode(error) !== API.streamNotFound)
        throw this.#link.wrap(error, `cannot inspect stream ${name}`);
    }
    try {
      await this.#link.jsm.streams.add({
        ...spec.extra,
        name,
        description: spec.what,
        subjects,
        storage: StorageType.File,
        retention: spec.retention,
        num_replicas: this.#link.settings.replicas,
        discard: DiscardPolicy.Old,
        max_age: nanos(spec.maxAgeMs),
      });
    } catch (error) {
      // another client created it meanwhile (possibly with other settings): use it if it fits
      if (apiCode(error) === API.streamNameInUse) return check();
      const failure = refused(error, `cannot create stream ${name}`, this.#link.wrap);
      const hint = replicasHint(error, this.#link.settings.replicas);
      throw hint === '' ? failure : fail(failure.code, `${failure.message}${hint}`, error);
    }
  }

  /** The consumer's `deliver_policy` as the server has it. */
  async #deliverPolicy(stream: string, name: string): Promise<string> {
    const info = await this.#link.jsm.consumers.info(stream, name);
    return info.config.deliver_policy;
  }

  /** Creates the consumer unless it exists; resolves with its `deliver_policy`. */
  async #ensureConsumer(spec: ConsumerSpec): Promise<string> {
    const { stream, name, filters } = spec;
    try {
      return await this.#deliverPolicy(stream, name);
    } catch (error) {
      if (apiCode(error) !== API.consumerNotFound)
        throw this.#link.wrap(error, `cannot inspect consumer ${stream}/${name}`);
    }
    const deliverPolicy = spec.deliverAll ? DeliverPolicy.All : DeliverPolicy.New;
    try {
      await this.#link.jsm.consumers.add(stream, {
        durable_name: name,
        name,
        description: spec.what,
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(this.#link.settings.ackWaitMs),
        max_ack_pending: this.#link.settings.maxAckPending,
        max_deliver: -1,
        deliver_policy: deliverPolicy,
        replay_policy: ReplayPolicy.Instant,
        ...(filters.length === 1 ? { filter_subject: filters[0] } : { filter_subjects: filters }),
      });
    } catch (error) {
      const code = apiCode(error);
      if (code === API.consumerExists || code === API.consumerAlreadyExists) {
        // another client created it meanwhile, possibly with another start
        try {
          return await this.#deliverPolicy(stream, name);
        } catch (again) {
          throw this.#link.wrap(again, `cannot inspect consumer ${stream}/${name}`);
        }
      }
      throw refused(error, `cannot create consumer ${stream}/${name}`, this.#link.wrap);
    }
    return deliverPolicy;
  }
}
