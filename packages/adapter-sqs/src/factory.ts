import { ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  CarrierError,
  type Transport,
  type TransportFactory,
  type TransportFactoryOptions,
} from '@carrier/core';
import { DeadlineError, withDeadline } from '@carrier/core/kit';
import { awsError, TRANSPORT } from './errors.js';
import { SqsTransport } from './sqs-transport.js';
import { parseSqsUrl, type SqsSettings } from './url.js';

/** Default of `connectTimeoutMs` when neither the factory options nor the URL give one, in ms. */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Where the factory connects, for error messages: the emulator endpoint or the AWS region. */
function destination(settings: SqsSettings): string {
  return settings.endpoint ?? `AWS ${settings.region ?? '(default region)'}`;
}

/**
 * The `sqs://` transport factory, loaded by `connect()` from `@carrier/core` (see
 * {@link parseSqsUrl} for the URL, its parameters, units and defaults). Resolves once SQS (and SNS,
 * unless `sns=false`) answered a harmless list call with the credentials of the AWS default
 * provider chain, within `connectTimeoutMs` (options, else the URL's, else 10 000 ms) for both
 * calls together; on expiry the requests (and their sockets) are cancelled.
 *
 * @throws CarrierError `INVALID_ARGUMENT` for a bad URL, `TIMEOUT` when the service did not answer
 *   within `connectTimeoutMs`, `CONNECTION` when it cannot be reached or refuses the credentials
 *   (the error never contains them).
 */
export const createTransport: TransportFactory = async (
  url: URL,
  options: TransportFactoryOptions,
): Promise<Transport> => {
  const settings = parseSqsUrl(url);
  const connectTimeoutMs =
    options.connectTimeoutMs ?? settings.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const config = {
    ...(settings.region ? { region: settings.region } : {}),
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    maxAttempts: 5,
    // socket-level bounds; every call also has its own overall deadline (see guard-client.ts)
    requestHandler: {
      connectionTimeout: connectTimeoutMs,
      requestTimeout: settings.waitTimeSeconds * 1_000 + settings.requestTimeoutMs,
    },
  };
  let sqs: SQSClient | undefined;
  let sns: SNSClient | undefined;
  try {
    sqs = new SQSClient(config);
    sns = settings.sns ? new SNSClient(config) : undefined;
    const [q, t] = [sqs, sns];
    await withDeadline({ what: 'connecting', ms: connectTimeoutMs }, async (abortSignal) => {
      await q.send(new ListQueuesCommand({ MaxResults: 1, QueueNamePrefix: 'carrier-connect-check' }), {
        abortSignal,
      });
      if (t) await t.send(new ListTopicsCommand({}), { abortSignal });
    });
  } catch (error) {
    sqs?.destroy();
    sns?.destroy();
    if (error instanceof CarrierError) throw error;
    if (error instanceof DeadlineError) {
      throw new CarrierError(
        'TIMEOUT',
        `connecting to ${destination(settings)}: no answer within ${connectTimeoutMs} ms`,
        { transport: TRANSPORT },
      );
    }
    throw awsError(`connecting to ${destination(settings)}`, error);
  }
  return new SqsTransport(settings, sqs, sns, options.onError);
};
