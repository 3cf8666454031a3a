import { ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  CarrierError,
  type Transport,
  type TransportFactory,
  type TransportFactoryOptions,
} from '@carrier/core';
import { awsError, TRANSPORT } from './errors.js';
import { SqsTransport } from './sqs-transport.js';
import { parseSqsUrl } from './url.js';

export {
  deadLetterQueueName,
  escapeName,
  fitName,
  groupQueueName,
  snsTopicName,
  unescapeName,
} from './names.js';
export {
  maxMessageBytes,
  SNS_MAX_BYTES,
  SQS_MAX_BYTES,
  SQS_MAX_DELAY_MS,
  SqsTransport,
} from './sqs-transport.js';
export { parseSqsUrl, type SqsSettings } from './url.js';
export { ATTR, decodeMessage, encodeMessage } from './wire.js';

/**
 * The `sqs://` transport factory, loaded by `connect()` from `@carrier/core`. Resolves once SQS (and
 * SNS, unless `sns=false`) answered a harmless list call with the credentials of the AWS default
 * provider chain.
 *
 * @throws CarrierError `INVALID_ARGUMENT` for a bad URL, `CONNECTION` when the service cannot be
 *   reached or refuses the credentials (the error never contains them).
 */
export const createTransport: TransportFactory = async (
  url: URL,
  options: TransportFactoryOptions,
): Promise<Transport> => {
  const settings = parseSqsUrl(url);
  const config = {
    ...(settings.region ? { region: settings.region } : {}),
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    maxAttempts: 5,
  };
  let sqs: SQSClient | undefined;
  let sns: SNSClient | undefined;
  try {
    sqs = new SQSClient(config);
    sns = settings.sns ? new SNSClient(config) : undefined;
    await sqs.send(new ListQueuesCommand({ MaxResults: 1, QueueNamePrefix: 'carrier-connect-check' }));
    if (sns) await sns.send(new ListTopicsCommand({}));
  } catch (error) {
    sqs?.destroy();
    sns?.destroy();
    if (error instanceof CarrierError) throw error;
    throw awsError(
      `connecting to ${settings.endpoint ?? `AWS ${settings.region ?? '(default region)'}`}`,
      error,
    );
  }
  return new SqsTransport(settings, sqs, sns, options.onError);
};

export { TRANSPORT };
