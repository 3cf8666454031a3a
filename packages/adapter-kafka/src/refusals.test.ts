import { createRequire } from 'node:module';
import { CarrierError, isPermanentPublishError } from '@carrier/core';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkajsBrokerErrors } from './errors.js';
import { brokerRefusal, kafkajsRefusal, REFUSAL_NAMES, type Refused } from './refusals.js';
import { parseKafkaUrl } from './url.js';

// kafkajs' own errors, as its protocol layer makes them from a broker's error code
const { createErrorFromCode } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
  createErrorFromCode(code: number): Error & { type: string; retriable: boolean };
};
const { KafkaJSAggregateError, KafkaJSCreateTopicError, KafkaJSNonRetriableError } = kafkajs;

const options = (query = '') => parseKafkaUrl(new URL(`kafka://127.0.0.1:9092${query}`));
const join: Refused = { kind: 'group join', group: 'orders..billing' };
const creation: Refused = {
  kind: 'topic creation',
  topic: 'orders',
  partitions: 3,
  replicationFactor: 2,
  config: [{ name: 'min.insync.replicas', value: '2' }],
};

/** What kafkajs' retrier rejects with when it gives up on a non-retriable error (retry/index.js). */
function bailed(error: Error): Error {
  return new KafkaJSNonRetriableError(error, { cause: error } as never);
}

describe('Kafka refusals (one mapping for both drivers)', () => {
  it('a group join refused with INVALID_SESSION_TIMEOUT is INVALID_ARGUMENT naming the broker error and sessionTimeoutMs', () => {
    const error = brokerRefusal(
      [{ name: 'INVALID_SESSION_TIMEOUT' }],
      join,
      options('?sessionTimeoutMs=1000'),
      'x',
    );
    expect(error).toBeInstanceOf(CarrierError);
    expect(error?.code).toBe('INVALID_ARGUMENT');
    expect(error?.transport).toBe('kafka');
    expect(error?.cause).toBe('x');
    expect(error?.message).toBe(
      "Kafka refused the group join of orders..billing: INVALID_SESSION_TIMEOUT (sessionTimeoutMs=1000 is outside the broker's group.min.session.timeout.ms..group.max.session.timeout.ms (6000..1800000 unless configured))",
    );
  });

  it('a group join refused with INCONSISTENT_GROUP_PROTOCOL is TOPOLOGY_CONFLICT naming the group', () => {
    const error = brokerRefusal([{ name: 'INCONSISTENT_GROUP_PROTOCOL' }], join, options(), undefined);
    expect(error?.code).toBe('TOPOLOGY_CONFLICT');
    expect(error?.message).toMatch(
      /^Kafka refused the group join of orders\.\.billing: INCONSISTENT_GROUP_PROTOCOL \(the members of group orders\.\.billing use another protocol/,
    );
  });

  it('a topic creation refused for its settings is TOPOLOGY_CONFLICT naming the setting and what the broker said', () => {
    const rf = brokerRefusal(
      [
        {
          name: 'INVALID_REPLICATION_FACTOR',
          detail: 'Replication factor: 2 larger than available brokers: 1.',
        },
      ],
      creation,
      options('?replicationFactor=2'),
      undefined,
    );
    expect(rf?.code).toBe('TOPOLOGY_CONFLICT');
    expect(rf?.message).toBe(
      "Kafka refused the creation of topic orders: INVALID_REPLICATION_FACTOR (replicationFactor=2 is more than the cluster's available brokers (the URL option replicationFactor); the broker says: Replication factor: 2 larger than available brokers: 1.)",
    );
    const defaulted = brokerRefusal([{ name: 'INVALID_REPLICATION_FACTOR' }], creation, options(), undefined);
    expect(defaulted?.message).toContain('the default, min(3, brokers at connect)');
    for (const [name, shown] of [
      ['INVALID_PARTITIONS', 'partitions=3'],
      ['INVALID_CONFIG', 'min.insync.replicas=2'],
      ['POLICY_VIOLATION', 'create.topic.policy'],
    ] as const) {
      const error = brokerRefusal([{ name }], creation, options(), undefined);
      expect(error?.code, name).toBe('TOPOLOGY_CONFLICT');
      expect(error?.message, name).toMatch(
        new RegExp(`^Kafka refused the creation of topic orders: ${name} \\(`),
      );
      expect(error?.message, name).toContain(shown);
    }
  });

  it('a refusal by the ACLs is AUTH_FAILED naming the user, never the password', () => {
    const o = parseKafkaUrl(new URL('kafka://alice:s3cret@h:9092'));
    for (const name of [
      'GROUP_AUTHORIZATION_FAILED',
      'TOPIC_AUTHORIZATION_FAILED',
      'CLUSTER_AUTHORIZATION_FAILED',
    ]) {
      const error = brokerRefusal([{ name }], join, o, undefined);
      expect(error?.code, name).toBe('AUTH_FAILED');
      expect(error?.message, name).toContain('user "alice"');
      expect(error?.message, name).not.toContain('s3cret');
    }
    expect(brokerRefusal([{ name: 'GROUP_AUTHORIZATION_FAILED' }], join, options(), undefined)?.message).toBe(
      "Kafka refused the group join of orders..billing: GROUP_AUTHORIZATION_FAILED (the broker's ACLs do not allow this connection (no SASL user) to use group orders..billing)",
    );
  });

  it('a setting refused on the publish path is not a permanent publish error (forwarders retry, they do not dead-letter the message)', () => {
    for (const name of REFUSAL_NAMES.filter((n) => n !== 'INVALID_SESSION_TIMEOUT'))
      expect(isPermanentPublishError(brokerRefusal([{ name }], creation, options(), undefined)), name).toBe(
        false,
      );
  });

  it('anything else is left to the caller (undefined): a retriable or unknown error, or none', () => {
    expect(brokerRefusal([], join, options(), undefined)).toBeUndefined();
    expect(
      brokerRefusal([{ name: 'COORDINATOR_LOAD_IN_PROGRESS' }], join, options(), undefined),
    ).toBeUndefined();
    expect(
      brokerRefusal([{ name: 'UNKNOWN_TOPIC_OR_PARTITION' }], join, options(), undefined),
    ).toBeUndefined();
  });

  it('the first refusal found wins (the outermost)', () => {
    const error = brokerRefusal(
      [
        { name: 'REBALANCE_IN_PROGRESS' },
        { name: 'INVALID_SESSION_TIMEOUT' },
        { name: 'GROUP_AUTHORIZATION_FAILED' },
      ],
      join,
      options(),
      undefined,
    );
    expect(error?.code).toBe('INVALID_ARGUMENT');
  });
});

describe('the kafkajs driver finds the Kafka error in kafkajs failures', () => {
  it('through the retrier’s wrapping (a group join refused with INVALID_SESSION_TIMEOUT)', () => {
    const protocol = createErrorFromCode(26);
    expect(protocol.type).toBe('INVALID_SESSION_TIMEOUT');
    const crash = bailed(protocol);
    expect(kafkajsBrokerErrors(crash)).toEqual([{ name: 'INVALID_SESSION_TIMEOUT' }]);
    const error = kafkajsRefusal(crash, join, options('?sessionTimeoutMs=1000'));
    expect(error?.code).toBe('INVALID_ARGUMENT');
    expect(error?.message).toContain('INVALID_SESSION_TIMEOUT (sessionTimeoutMs=1000');
    expect(error?.cause).toBe(crash);
  });

  it('inside a CreateTopics aggregate (INVALID_REPLICATION_FACTOR for one topic)', () => {
    const aggregate = new KafkaJSAggregateError('Topic creation errors', [
      new KafkaJSCreateTopicError(createErrorFromCode(38) as never, 'orders'),
    ]);
    const error = kafkajsRefusal(bailed(aggregate), creation, options('?replicationFactor=2'));
    expect(error?.code).toBe('TOPOLOGY_CONFLICT');
    expect(error?.message).toContain('INVALID_REPLICATION_FACTOR (replicationFactor=2');
  });

  it('none in a connection failure: the caller keeps its CONNECTION', () => {
    const refused = new kafkajs.KafkaJSConnectionError('Connection error: ECONNREFUSED');
    expect(kafkajsRefusal(bailed(refused), join, options())).toBeUndefined();
    expect(kafkajsBrokerErrors(new TypeError('x'))).toEqual([]);
  });
});
