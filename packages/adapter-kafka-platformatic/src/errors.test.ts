import { parseKafkaUrl } from '@carrier/adapter-kafka/driver-kit';
import { MultipleErrors, NetworkError, ResponseError, UserError } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { brokerErrors, hasBrokerError, refusal } from './errors.js';

// @platformatic/kafka's own error classes, shaped as its clients throw them: a ResponseError per
// response (one ProtocolError per failing path), wrapped in MultipleErrors when it retried.
const CREATE_TOPICS = 19;
const JOIN_GROUP = 11;
const options = (query = '') => parseKafkaUrl(new URL(`kafka://127.0.0.1:9092?client=platformatic${query}`));

describe('the platformatic driver finds the Kafka error in @platformatic/kafka failures', () => {
  it('a group join refused with INVALID_SESSION_TIMEOUT is INVALID_ARGUMENT naming sessionTimeoutMs', () => {
    const failure = new ResponseError(JOIN_GROUP, 9, { '': [26, null] }, {});
    expect(brokerErrors(failure)).toEqual([{ name: 'INVALID_SESSION_TIMEOUT', detail: undefined }]);
    const error = refusal(
      failure,
      { kind: 'group join', group: 'orders..billing' },
      options('&sessionTimeoutMs=1000'),
    );
    expect(error?.code).toBe('INVALID_ARGUMENT');
    expect(error?.message).toMatch(
      /^Kafka refused the group join of orders\.\.billing: INVALID_SESSION_TIMEOUT \(sessionTimeoutMs=1000 is outside the broker's group\.min\.session\.timeout\.ms\.\.group\.max\.session\.timeout\.ms/,
    );
    expect(error?.cause).toBe(failure);
  });

  it('a topic creation refused with INVALID_REPLICATION_FACTOR is TOPOLOGY_CONFLICT with what the broker said', () => {
    const failure = new ResponseError(
      CREATE_TOPICS,
      7,
      { '/topics/0': [38, 'Replication factor: 2 larger than available brokers: 1.'] },
      {},
    );
    const error = refusal(
      failure,
      { kind: 'topic creation', topic: 'orders', partitions: 3, replicationFactor: 2, config: [] },
      options('&replicationFactor=2'),
    );
    expect(error?.code).toBe('TOPOLOGY_CONFLICT');
    expect(error?.message).toContain(
      'INVALID_REPLICATION_FACTOR (replicationFactor=2 is more than the cluster',
    );
    expect(error?.message).toContain(
      'the broker says: Replication factor: 2 larger than available brokers: 1.',
    );
  });

  it('through the retries’ MultipleErrors and a cause', () => {
    const inner = new ResponseError(JOIN_GROUP, 9, { '': [30, null] }, {});
    const retried = new MultipleErrors('joinGroup failed 2 times.', [
      new NetworkError('Connection closed'),
      new Error('wrapper', { cause: inner }),
    ]);
    expect(brokerErrors(retried).map((e) => e.name)).toEqual(['GROUP_AUTHORIZATION_FAILED']);
    expect(refusal(retried, { kind: 'group join', group: 'g' }, options())?.code).toBe('AUTH_FAILED');
  });

  it('its "Unknown topic" UserError of a Metadata request stands for UNKNOWN_TOPIC_OR_PARTITION', () => {
    expect(hasBrokerError(new UserError('Unknown topic orders.'), 'UNKNOWN_TOPIC_OR_PARTITION')).toBe(true);
    expect(
      hasBrokerError(new UserError('Client closed while retrying metadata.'), 'UNKNOWN_TOPIC_OR_PARTITION'),
    ).toBe(false);
  });

  it('none in a network failure: the caller keeps its CONNECTION', () => {
    expect(brokerErrors(new NetworkError('Connection refused'))).toEqual([]);
    expect(refusal(new NetworkError('x'), { kind: 'lookup', topic: 't' }, options())).toBeUndefined();
  });
});
