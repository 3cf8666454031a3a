/**
 * Carrier over Amazon SQS with SNS fan-out (`sqs://`). `connect()` from `@carrier/core` loads this
 * package; users rarely import it directly. The public surface: the factory
 * {@link createTransport}, the URL parser and its settings, the names of the AWS resources Carrier
 * uses and the message attributes it writes (see docs/brokers/sqs.md), the sweep of reply queues
 * that crashed requesters left ({@link sweepStrayReplyQueues}), and {@link native}: typed
 * tokens for `carrier.as`, `subscription.as` and `message.as` (the AWS SDK objects).
 *
 * @packageDocumentation
 */
export { createTransport } from './factory.js';
export { deadLetterQueueName, groupQueueName, type NameOptions, snsTopicName } from './names.js';
export { native, type SqsConnectionNative, type SqsSubscriptionNative } from './native.js';
export { REPLY_QUEUE_PREFIX, sweepStrayReplyQueues } from './replies.js';
export { parseSqsUrl, type SqsSettings } from './url.js';
export { ATTR } from './wire.js';
