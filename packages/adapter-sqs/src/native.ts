import type { SNSClient } from '@aws-sdk/client-sns';
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import { NativeToken } from '@carrier/core';

/** What `carrier.as(native.connection)` gives on an SQS connection. */
export interface SqsConnectionNative {
  /** The AWS SDK v3 SQS client Carrier uses (its region, endpoint and credentials). Never destroy it. */
  readonly sqs: SQSClient;
  /** The SNS client of SNS mode; undefined in queue-only mode (`sns=false`). */
  readonly sns: SNSClient | undefined;
}

/** What `subscription.as(native.subscription)` gives on an SQS subscription. */
export interface SqsSubscriptionNative {
  /** The URL of the queue it receives from (the group's queue, or its dead-letter queue). */
  readonly queueUrl: string;
  /** The SQS client it receives with. */
  readonly sqs: SQSClient;
}

/**
 * The typed tokens of Carrier's native access on SQS (as Go CDK's `As`): pass one to `carrier.as`,
 * `subscription.as` or `message.as` of an `sqs://` connection; on another transport they throw
 * `UNSUPPORTED`. `message.as(native.message)` gives the SQS `Message` as received (`MessageId`,
 * `ReceiptHandle`, `Attributes` such as `ApproximateReceiveCount`, `MessageAttributes`). Using them
 * voids portability; see the README for what is safe.
 */
export const native = {
  connection: new NativeToken<SqsConnectionNative, 'connection'>(
    'sqs',
    'connection',
    'the SQS and SNS clients',
  ),
  subscription: new NativeToken<SqsSubscriptionNative, 'subscription'>(
    'sqs',
    'subscription',
    'the queue URL and SQS client',
  ),
  message: new NativeToken<Message, 'message'>('sqs', 'message', 'the SQS Message as received'),
} as const;
