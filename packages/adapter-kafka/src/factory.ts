import { CarrierError, type TransportFactory, type TransportFactoryOptions } from '@carrier/core';
import { DeadlineError, withDeadline } from '@carrier/core/kit';
import kafkajs, {
  type Admin,
  type ConsumerConfig,
  type KafkaConfig,
  type logLevel,
  type SASLOptions,
} from 'kafkajs';
import { kafkaError, retrying } from './errors.js';
import { KafkaTransport } from './kafka-transport.js';
import { SocketRegistry } from './sockets.js';
import { type KafkaUrlOptions, parseKafkaUrl } from './url.js';

// kafkajs is CommonJS: Node's ESM loader only sees its default export
const { ConfigResourceTypes, Kafka: KafkaClient, logLevel: LogLevel } = kafkajs;

/** Kafka's default `message.max.bytes` (1 MiB + 12 bytes), used when the broker does not say. */
const DEFAULT_MESSAGE_MAX_BYTES = 1_048_588;
/** `connectTimeoutMs` when the factory options give none. */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

const LOG_LEVELS: Record<KafkaUrlOptions['logLevel'], logLevel> = {
  nothing: LogLevel.NOTHING,
  error: LogLevel.ERROR,
  warn: LogLevel.WARN,
  info: LogLevel.INFO,
  debug: LogLevel.DEBUG,
};

/** The kafkajs client settings of a parsed URL (sockets through `sockets` when given). */
function kafkaConfig(options: KafkaUrlOptions, sockets?: SocketRegistry): KafkaConfig {
  return {
    ...(sockets ? { socketFactory: sockets.factory } : {}),
    clientId: options.clientId,
    brokers: [...options.brokers],
    ssl: options.tls ? { rejectUnauthorized: options.tlsRejectUnauthorized } : false,
    ...(options.sasl ? { sasl: { ...options.sasl } as SASLOptions } : {}),
    connectionTimeout: options.connectionTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    enforceRequestTimeout: true,
    logLevel: LOG_LEVELS[options.logLevel],
    retry: { initialRetryTime: 200, retries: 5, maxRetryTime: 5_000 },
  };
}

/** The kafkajs consumer settings of a parsed URL, shared by every consumer of the connection. */
function consumerConfig(options: KafkaUrlOptions): Omit<ConsumerConfig, 'groupId'> {
  return {
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: options.heartbeatIntervalMs,
    rebalanceTimeout: options.rebalanceTimeoutMs,
    maxWaitTimeInMs: options.maxWaitTimeMs,
    allowAutoTopicCreation: false,
    retry: { initialRetryTime: 200, retries: 10, maxRetryTime: 5_000 },
  };
}

/** Reads the cluster size and the broker's `message.max.bytes`, retrying while `left()` ms remain. */
async function readCluster(
  admin: Admin,
  options: KafkaUrlOptions,
  left: () => number,
): Promise<{ messageMaxBytes: number; replicationFactor: number }> {
  await admin.connect();
  const cluster = await retrying(() => admin.describeCluster(), left());
  let messageMaxBytes = DEFAULT_MESSAGE_MAX_BYTES;
  const broker = cluster.brokers[0];
  if (broker) {
    const described = await retrying(
      () =>
        admin.describeConfigs({
          includeSynonyms: false,
          resources: [
            {
              type: ConfigResourceTypes.BROKER,
              name: String(broker.nodeId),
              configNames: ['message.max.bytes'],
            },
          ],
        }),
      left(),
    );
    const value = described.resources[0]?.configEntries.find(
      (e) => e.configName === 'message.max.bytes',
    )?.configValue;
    if (value && Number.isInteger(Number(value))) messageMaxBytes = Number(value);
  }
  const replicationFactor = options.replicationFactor ?? Math.max(1, Math.min(3, cluster.brokers.length));
  return { messageMaxBytes, replicationFactor };
}

/**
 * Connects (admin client), reads the cluster size and the broker's `message.max.bytes`, and resolves
 * with the transport, all within `factory.connectTimeoutMs` (default 10 000 ms); past it every socket
 * the client opened is destroyed and none is opened any more.
 *
 * @throws CarrierError `TIMEOUT` when the cluster did not answer within `connectTimeoutMs`,
 *   `CONNECTION` when it refused or failed.
 */
export async function createKafkaTransport(
  options: KafkaUrlOptions,
  factory: TransportFactoryOptions,
): Promise<KafkaTransport> {
  const connectTimeoutMs = factory.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const deadline = Date.now() + connectTimeoutMs;
  const sockets = new SocketRegistry();
  const connectionTimeoutMs = Math.min(options.connectionTimeoutMs, connectTimeoutMs);
  const kafka = new KafkaClient(kafkaConfig({ ...options, connectionTimeoutMs }, sockets));
  const admin = kafka.admin();
  const setup = readCluster(admin, options, () => Math.max(0, deadline - Date.now()));
  try {
    const cluster = await withDeadline({ what: 'connecting', ms: connectTimeoutMs }, () => setup);
    const settings = { ...cluster, consumerConfig: consumerConfig(options), sockets };
    return new KafkaTransport(kafka, admin, options, settings, factory.onError);
  } catch (cause) {
    if (cause instanceof DeadlineError) {
      // no socket may outlive the deadline (kafkajs' disconnect would wait for the silent requests,
      // and its retries may still open new ones)
      sockets.refuse(new Error('connect deadline passed'));
      void setup.then(
        () => admin.disconnect(),
        () => admin.disconnect(),
      );
    }
    await admin.disconnect().catch(() => {});
    if (cause instanceof DeadlineError) {
      throw kafkaError(
        'TIMEOUT',
        `no answer from kafka at ${options.brokers.join(',')} within connectTimeoutMs (${connectTimeoutMs} ms)`,
      );
    }
    if (cause instanceof CarrierError) throw cause;
    throw kafkaError('CONNECTION', `cannot connect to kafka at ${options.brokers.join(',')}`, cause);
  }
}

/**
 * The factory `connect()` from `@carrier/core` loads for `kafka://` and `kafkas://` URLs: parses
 * the URL (see {@link parseKafkaUrl}), connects within `connectTimeoutMs` (default 10 000 ms) and
 * resolves with a {@link KafkaTransport}.
 *
 * @throws CarrierError `INVALID_ARGUMENT` for a malformed URL, `TIMEOUT` when no broker answered
 *   within `connectTimeoutMs`, `CONNECTION` when the cluster refused or failed.
 */
export const createTransport: TransportFactory = async (url, options) =>
  createKafkaTransport(parseKafkaUrl(url), options);
