import * as incubating from '@opentelemetry/semantic-conventions/incubating';
import { describe, expect, it } from 'vitest';
import * as ours from './semconv.js';
import { newerSystemName, semconvStability } from './stability.js';

describe('the names Carrier emits are those of @opentelemetry/semantic-conventions', () => {
  it('attributes', () => {
    expect(ours.ATTR_MESSAGING_SYSTEM).toBe(incubating.ATTR_MESSAGING_SYSTEM);
    expect(ours.ATTR_MESSAGING_SYSTEM_NAME).toBe(incubating.ATTR_MESSAGING_SYSTEM_NAME);
    expect(ours.ATTR_MESSAGING_DESTINATION_NAME).toBe(incubating.ATTR_MESSAGING_DESTINATION_NAME);
    expect(ours.ATTR_MESSAGING_DESTINATION_TEMPORARY).toBe(incubating.ATTR_MESSAGING_DESTINATION_TEMPORARY);
    expect(ours.ATTR_MESSAGING_DESTINATION_ANONYMOUS).toBe(incubating.ATTR_MESSAGING_DESTINATION_ANONYMOUS);
    expect(ours.ATTR_MESSAGING_OPERATION_TYPE).toBe(incubating.ATTR_MESSAGING_OPERATION_TYPE);
    expect(ours.ATTR_MESSAGING_OPERATION_NAME).toBe(incubating.ATTR_MESSAGING_OPERATION_NAME);
    expect(ours.ATTR_MESSAGING_MESSAGE_ID).toBe(incubating.ATTR_MESSAGING_MESSAGE_ID);
    expect(ours.ATTR_MESSAGING_CONSUMER_GROUP_NAME).toBe(incubating.ATTR_MESSAGING_CONSUMER_GROUP_NAME);
    expect(ours.ATTR_MESSAGING_MESSAGE_BODY_SIZE).toBe(incubating.ATTR_MESSAGING_MESSAGE_BODY_SIZE);
    expect(ours.ATTR_MESSAGING_MESSAGE_CONVERSATION_ID).toBe(
      incubating.ATTR_MESSAGING_MESSAGE_CONVERSATION_ID,
    );
    expect(ours.ATTR_MESSAGING_BATCH_MESSAGE_COUNT).toBe(incubating.ATTR_MESSAGING_BATCH_MESSAGE_COUNT);
    expect(ours.ATTR_ERROR_TYPE).toBe(incubating.ATTR_ERROR_TYPE);
  });

  it('operation types and registered systems', () => {
    expect(ours.OPERATION_TYPE).toEqual({
      create: incubating.MESSAGING_OPERATION_TYPE_VALUE_CREATE,
      send: incubating.MESSAGING_OPERATION_TYPE_VALUE_SEND,
      receive: incubating.MESSAGING_OPERATION_TYPE_VALUE_RECEIVE,
      process: incubating.MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
      settle: incubating.MESSAGING_OPERATION_TYPE_VALUE_SETTLE,
    });
    // the values the adapters set (kafka, rabbitmq, aws_sqs are registered; nats and carrier_memory are not)
    expect(['kafka', 'rabbitmq', 'aws_sqs']).toEqual([
      incubating.MESSAGING_SYSTEM_VALUE_KAFKA,
      incubating.MESSAGING_SYSTEM_VALUE_RABBITMQ,
      incubating.MESSAGING_SYSTEM_VALUE_AWS_SQS,
    ]);
    const registered = Object.entries(incubating)
      .filter(([name]) => name.startsWith('MESSAGING_SYSTEM_VALUE_'))
      .map(([, value]) => value);
    expect(registered).not.toContain('nats');
    expect(registered).not.toContain(ours.MEMORY_SYSTEM);
    expect(newerSystemName('aws_sqs')).toBe(incubating.MESSAGING_SYSTEM_NAME_VALUE_AWS_SQS);
    expect(newerSystemName('kafka')).toBe(incubating.MESSAGING_SYSTEM_NAME_VALUE_KAFKA);
  });

  it('metrics', () => {
    expect(ours.METRIC_MESSAGING_CLIENT_SENT_MESSAGES).toBe(incubating.METRIC_MESSAGING_CLIENT_SENT_MESSAGES);
    expect(ours.METRIC_MESSAGING_CLIENT_CONSUMED_MESSAGES).toBe(
      incubating.METRIC_MESSAGING_CLIENT_CONSUMED_MESSAGES,
    );
    expect(ours.METRIC_MESSAGING_PROCESS_DURATION).toBe(incubating.METRIC_MESSAGING_PROCESS_DURATION);
    expect(ours.METRIC_MESSAGING_CLIENT_OPERATION_DURATION).toBe(
      incubating.METRIC_MESSAGING_CLIENT_OPERATION_DURATION,
    );
  });
});

describe('OTEL_SEMCONV_STABILITY_OPT_IN', () => {
  it('absent or about other domains: the pinned names only', () => {
    expect(semconvStability(undefined)).toEqual({ pinned: true, newer: false });
    expect(semconvStability('http,database')).toEqual({ pinned: true, newer: false });
  });
  it('messaging: the newer names only; messaging/dup: both, and it wins', () => {
    expect(semconvStability('http, messaging')).toEqual({ pinned: false, newer: true });
    expect(semconvStability('messaging,messaging/dup')).toEqual({ pinned: true, newer: true });
  });
});
