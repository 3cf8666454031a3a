import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  CarrierError,
  type Transport,
  type TransportFactory,
  type TransportFactoryOptions,
} from '@carrier/core';
import { DeadlineError, describeError, withDeadline } from '@carrier/core/kit';
import { authRefused, awsError, errorName, TRANSPORT } from './errors.js';
import { SqsTransport } from './sqs-transport.js';
import { parseSqsUrl, type SqsSettings } from './url.js';

/** Default of `connectTimeoutMs` when neither the factory options nor the URL give one, in ms. */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Where the factory connects, for error messages: the emulator endpoint or the AWS region. */
function destination(settings: SqsSettings): string {
  return settings.endpoint ?? `AWS ${settings.region ?? '(default region)'}`;
}

/** The `https.Agent` options trusting the URL's `caFile` (plus Node's CAs), if it names one. */
async function httpsAgent(settings: SqsSettings): Promise<{ httpsAgent?: { ca: string[] } }> {
  if (settings.caFile === undefined) return {};
  try {
    return { httpsAgent: { ca: [...rootCertificates, await readFile(settings.caFile, 'utf8')] } };
  } catch (cause) {
    const code = (cause as { code?: string }).code ?? 'unreadable';
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `cannot read caFile ${JSON.stringify(settings.caFile)}: ${code}`,
      {
        transport: TRANSPORT,
      },
    );
  }
}

/**
 * The `sqs://` transport factory, loaded by `connect()` from `@carrier/core` (see
 * {@link parseSqsUrl} for the URL, its parameters, units and defaults). Resolves once SQS (and SNS,
 * unless `sns=false`) answered a harmless list call with the credentials of the AWS default
 * provider chain, within `connectTimeoutMs` (options, else the URL's, else 10 000 ms) for both
 * calls together; on expiry the requests (and their sockets) are cancelled.
 *
 * @throws CarrierError `INVALID_ARGUMENT` for a bad URL or an unreadable `caFile`, `AUTH_FAILED`
 *   when the service refuses the credentials (unknown access key, signature that does not match,
 *   expired token, access denied) or the SDK finds none, `TIMEOUT` when the service did not answer
 *   within `connectTimeoutMs`, `CONNECTION` when it cannot be reached (also when its certificate is
 *   not trusted). Errors never contain the credentials.
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
      ...(await httpsAgent(settings)),
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
    if (errorName(error) === 'CredentialsProviderError')
      throw new CarrierError(
        'AUTH_FAILED',
        `connecting to ${destination(settings)}: no AWS credentials (the SDK's default provider chain found none: environment, shared config and credentials files, SSO, container or instance role)`,
        { transport: TRANSPORT, cause: error },
      );
    if (authRefused(error))
      throw new CarrierError(
        'AUTH_FAILED',
        `connecting to ${destination(settings)}: the credentials were refused: ${errorName(error)}: ${describeError(error)}`,
        { transport: TRANSPORT, cause: error },
      );
    throw awsError(`connecting to ${destination(settings)}`, error);
  }
  return new SqsTransport(settings, sqs, sns, options.onError);
};
