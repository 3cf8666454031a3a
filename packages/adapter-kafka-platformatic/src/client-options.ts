import { type KafkaUrlOptions, TRANSPORT, tlsConfig } from '@carrier/adapter-kafka/driver-kit';
import { CarrierError } from '@carrier/core';
import type { BaseOptions, SASLOptions } from '@platformatic/kafka';

/** The @platformatic/kafka client settings every client of a connection shares (producer, consumers, admin). */
export type ClientOptions = BaseOptions;

const SASL: Record<NonNullable<KafkaUrlOptions['sasl']>['mechanism'], SASLOptions['mechanism']> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
};

/**
 * The @platformatic/kafka settings of a parsed URL: bootstrap brokers, client id, TLS (from
 * adapter-kafka's `tlsConfig`: CA, client certificate, servername, `tlsRejectUnauthorized`), SASL
 * (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), `connectionTimeoutMs` as the connect timeout and
 * `requestTimeoutMs` as each request's timeout.
 *
 * @throws CarrierError `INVALID_ARGUMENT` for an option @platformatic/kafka cannot honour
 *   (`logLevel` other than `nothing`: it has no logger, only diagnostics channels), or an
 *   unreadable TLS file.
 */
export async function clientOptions(
  options: KafkaUrlOptions,
  connectTimeoutMs: number,
): Promise<ClientOptions> {
  if (options.logLevel !== 'nothing') {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `logLevel=${options.logLevel} is not supported with client=platformatic: @platformatic/kafka has no logger (it publishes node:diagnostics_channel events)`,
      { transport: TRANSPORT },
    );
  }
  const tls = await tlsConfig(options);
  return {
    clientId: options.clientId,
    bootstrapBrokers: [...options.brokers],
    connectTimeout: Math.min(options.connectionTimeoutMs, connectTimeoutMs),
    requestTimeout: options.requestTimeoutMs,
    timeout: options.requestTimeoutMs,
    retries: 5,
    retryDelay: 200,
    ...(tls ? { tls } : {}),
    ...(options.sasl
      ? {
          sasl: {
            mechanism: SASL[options.sasl.mechanism],
            username: options.sasl.username,
            password: options.sasl.password,
          },
        }
      : {}),
  };
}
