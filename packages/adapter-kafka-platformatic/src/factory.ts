import {
  createKafkaTransport,
  type KafkaUrlOptions,
  kafkaError,
  parseKafkaUrl,
} from '@carrier/adapter-kafka/driver-kit';
import { CarrierError, type TransportFactory, type TransportFactoryOptions } from '@carrier/core';
import { Admin } from '@platformatic/kafka';
import { clientOptions } from './client-options.js';
import { AdminTopology, readCluster } from './topology.js';
import { PlatformaticKafkaTransport } from './transport.js';

/** `connectTimeoutMs` when the factory options give none (as the kafkajs driver). */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Connects a `client=platformatic` transport: checks that @platformatic/kafka can honour every URL
 * option, then connects the administrative client (cluster size, `message.max.bytes`) within
 * `factory.connectTimeoutMs` (default 10 000 ms) and resolves with the transport.
 *
 * @throws CarrierError `INVALID_ARGUMENT` for an option @platformatic/kafka cannot honour or an
 *   unreadable TLS file; `AUTH_FAILED`, `TIMEOUT`, `CONNECTION` as the kafkajs driver's
 *   `createKafkaTransport`.
 */
export async function createPlatformaticKafkaTransport(
  options: KafkaUrlOptions,
  factory: TransportFactoryOptions,
): Promise<PlatformaticKafkaTransport> {
  const connectTimeoutMs = factory.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const deadline = Date.now() + connectTimeoutMs;
  const client = await clientOptions(options, connectTimeoutMs);
  const kafkajs = await createKafkaTransport(options, factory);
  const admin = new Admin(client);
  try {
    const cluster = await readCluster(admin, options, Math.max(1, deadline - Date.now()));
    const topology = new AdminTopology(admin, options, cluster.replicationFactor);
    return new PlatformaticKafkaTransport(kafkajs, topology, cluster, client, options, factory.onError);
  } catch (cause) {
    await Promise.allSettled([admin.close(), kafkajs.close()]);
    if (cause instanceof CarrierError) throw cause;
    throw kafkaError('CONNECTION', `cannot connect to kafka at ${options.brokers.join(',')}`, cause);
  }
}

/**
 * The factory for `kafka://…?client=platformatic` (and `kafkas://`): `@carrier/adapter-kafka`
 * delegates such URLs here. The URL options are the kafkajs driver's (see `parseKafkaUrl`).
 *
 * @throws CarrierError as {@link createPlatformaticKafkaTransport}; `INVALID_ARGUMENT` for a
 *   malformed URL.
 */
export const createTransport: TransportFactory = async (url, options) =>
  createPlatformaticKafkaTransport(parseKafkaUrl(url), options);
