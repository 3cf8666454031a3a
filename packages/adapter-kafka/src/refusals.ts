import { CarrierError, type CarrierErrorCode } from '@carrier/core';
import { kafkajsBrokerErrors, TRANSPORT } from './errors.js';
import type { KafkaUrlOptions } from './url.js';

/**
 * One Kafka error found in a client library's failure: its protocol name (`INVALID_SESSION_TIMEOUT`,
 * as kafkajs' `type` and @platformatic/kafka's `apiId` spell it) and, when the broker gave one, its
 * own explanation (CreateTopics v1+ `error_message`, e.g. "Replication factor: 2 larger than
 * available brokers: 1.").
 */
export interface BrokerError {
  readonly name: string;
  readonly detail?: string | undefined;
}

/** What was being done when Kafka refused, for the message and the explanation of each refusal. */
export type Refused =
  /** Joining consumer group `group` (JoinGroup), or committing its offsets as a member. */
  | { readonly kind: 'group join'; readonly group: string }
  /** Creating `topic` with these settings (CreateTopics). */
  | {
      readonly kind: 'topic creation';
      readonly topic: string;
      readonly partitions: number;
      readonly replicationFactor: number;
      readonly config: readonly { readonly name: string; readonly value: string }[];
    }
  /** Setting an empty group's offsets from outside it (OffsetCommit without a member, DescribeGroups). */
  | { readonly kind: 'group offsets'; readonly group: string }
  /** Reading `topic`'s metadata or `group`'s offsets (Metadata, OffsetFetch, DescribeGroups). */
  | { readonly kind: 'lookup'; readonly topic: string; readonly group?: string | undefined };

/** The Carrier code of each Kafka refusal that trying again cannot mend, and its explanation. */
interface Refusal {
  readonly code: CarrierErrorCode;
  readonly explain: (refused: Refused, options: KafkaUrlOptions) => string;
}

function who(options: KafkaUrlOptions): string {
  return options.sasl ? `user ${JSON.stringify(options.sasl.username)}` : 'this connection (no SASL user)';
}

function asked(refused: Refused): string {
  if (refused.kind !== 'topic creation') return '';
  const config = refused.config.map((e) => `${e.name}=${e.value}`).join(', ');
  return `partitions=${refused.partitions}, replicationFactor=${refused.replicationFactor}${config === '' ? '' : `, ${config}`}`;
}

function target(refused: Refused): string {
  if (refused.kind === 'group join' || refused.kind === 'group offsets') return `group ${refused.group}`;
  if (refused.kind === 'lookup' && refused.group !== undefined)
    return `topic ${refused.topic} or group ${refused.group}`;
  return `topic ${refused.topic}`;
}

/**
 * Kafka's refusals of a setting, by error name. Codes, by their meaning in core's errors.ts:
 * - `INVALID_ARGUMENT` for `INVALID_SESSION_TIMEOUT`: the URL's `sessionTimeoutMs` alone is wrong
 *   (outside the broker's range), nothing was sent; it is refused only when a group is joined, never
 *   on the publish path (where `INVALID_ARGUMENT` would make forwarders reject the message).
 * - `TOPOLOGY_CONFLICT` for the rest of what a group or topic would be: an existing group's members
 *   speak another protocol (`INCONSISTENT_GROUP_PROTOCOL`), or the cluster does not take the topic
 *   this connection creates — more replicas than brokers, a partition count, a topic config, a
 *   create-topic policy. The cluster's state conflicts with what is asked, as for a topic name
 *   Kafka refuses; and since topics are created on `publish`, `INVALID_ARGUMENT` would make the
 *   bridge and the outbox relay dead-letter every message (`isPermanentPublishError`) over a
 *   connection setting, where `TOPOLOGY_CONFLICT` has them retry until it is fixed.
 * - `AUTH_FAILED` for the `*_AUTHORIZATION_FAILED` errors: the broker's ACLs refuse these
 *   credentials; the same credentials cannot succeed. The message names the user, never a password.
 */
const REFUSALS: Readonly<Record<string, Refusal>> = {
  INVALID_SESSION_TIMEOUT: {
    code: 'INVALID_ARGUMENT',
    explain: (_, o) =>
      `sessionTimeoutMs=${o.sessionTimeoutMs} is outside the broker's group.min.session.timeout.ms..group.max.session.timeout.ms (6000..1800000 unless configured)`,
  },
  INCONSISTENT_GROUP_PROTOCOL: {
    code: 'TOPOLOGY_CONFLICT',
    explain: (r) =>
      `the members of ${target(r)} use another protocol type or partition assignor than Carrier's: another application uses this group id`,
  },
  INVALID_REPLICATION_FACTOR: {
    code: 'TOPOLOGY_CONFLICT',
    explain: (r, o) =>
      `replicationFactor=${r.kind === 'topic creation' ? r.replicationFactor : o.replicationFactor} is more than the cluster's available brokers (${o.replicationFactor === undefined ? 'the default, min(3, brokers at connect)' : 'the URL option replicationFactor'})`,
  },
  INVALID_PARTITIONS: {
    code: 'TOPOLOGY_CONFLICT',
    explain: (r, o) =>
      `partitions=${r.kind === 'topic creation' ? r.partitions : o.partitions} is not a partition count the broker accepts`,
  },
  INVALID_CONFIG: {
    code: 'TOPOLOGY_CONFLICT',
    explain: (r) => `the broker refuses a setting of the topic (${asked(r)})`,
  },
  POLICY_VIOLATION: {
    code: 'TOPOLOGY_CONFLICT',
    explain: (r) => `the broker's create.topic.policy refuses the topic (${asked(r)})`,
  },
  TOPIC_AUTHORIZATION_FAILED: {
    code: 'AUTH_FAILED',
    explain: (r, o) => `the broker's ACLs do not allow ${who(o)} to use ${target(r)}`,
  },
  GROUP_AUTHORIZATION_FAILED: {
    code: 'AUTH_FAILED',
    explain: (r, o) => `the broker's ACLs do not allow ${who(o)} to use ${target(r)}`,
  },
  CLUSTER_AUTHORIZATION_FAILED: {
    code: 'AUTH_FAILED',
    explain: (_, o) => `the broker's ACLs do not allow ${who(o)} this operation on the cluster`,
  },
};

/** The Kafka error names {@link brokerRefusal} turns into a clear, non-retryable `CarrierError`. */
export const REFUSAL_NAMES: readonly string[] = Object.keys(REFUSALS);

function what(refused: Refused): string {
  switch (refused.kind) {
    case 'group join':
      return `the group join of ${refused.group}`;
    case 'group offsets':
      return `setting the offsets of group ${refused.group}`;
    case 'topic creation':
      return `the creation of topic ${refused.topic}`;
    case 'lookup':
      return `reading ${target(refused)}`;
  }
}

/**
 * The `CarrierError` for a Kafka refusal that trying again cannot mend, else `undefined` (the caller
 * keeps its own error, e.g. `CONNECTION`). The one mapping of Kafka error names to Carrier codes for
 * both drivers: each driver finds the {@link BrokerError}s in its library's failure (kafkajs: `type`
 * along `cause` and aggregate `errors`; @platformatic/kafka: `apiId` and `serverErrorMessage`) and
 * passes them here. The message names what was refused, the Kafka error and why, from the values
 * this connection used, e.g. "Kafka refused the group join of orders..billing:
 * INVALID_SESSION_TIMEOUT (sessionTimeoutMs=1000 is outside the broker's
 * group.min.session.timeout.ms..group.max.session.timeout.ms …)"; `cause` is the library's error.
 *
 * Codes: `INVALID_ARGUMENT` (`INVALID_SESSION_TIMEOUT`), `TOPOLOGY_CONFLICT`
 * (`INCONSISTENT_GROUP_PROTOCOL`, `INVALID_REPLICATION_FACTOR`, `INVALID_PARTITIONS`,
 * `INVALID_CONFIG`, `POLICY_VIOLATION`), `AUTH_FAILED` (`TOPIC_`, `GROUP_`,
 * `CLUSTER_AUTHORIZATION_FAILED`); see {@link REFUSALS} for why.
 */
export function brokerRefusal(
  found: readonly BrokerError[],
  refused: Refused,
  options: KafkaUrlOptions,
  cause: unknown,
): CarrierError | undefined {
  for (const error of found) {
    const refusal = REFUSALS[error.name];
    if (!refusal) continue;
    const broker = error.detail ? `; the broker says: ${error.detail}` : '';
    return new CarrierError(
      refusal.code,
      `Kafka refused ${what(refused)}: ${error.name} (${refusal.explain(refused, options)}${broker})`,
      { transport: TRANSPORT, cause },
    );
  }
  return undefined;
}

/** {@link brokerRefusal} of a kafkajs failure (the kafkajs driver's side: `kafkajsBrokerErrors`). */
export function kafkajsRefusal(
  cause: unknown,
  refused: Refused,
  options: KafkaUrlOptions,
): CarrierError | undefined {
  return brokerRefusal(kafkajsBrokerErrors(cause), refused, options, cause);
}
