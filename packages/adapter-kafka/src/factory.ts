import type { ConnectionOptions } from 'node:tls';
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
import { refusalError, tlsConfig, tlsRefusal } from './security.js';
import { SocketRegistry } from './sockets.js';
import { checkMinInsyncReplicas, type KafkaUrlOptions, parseKafkaUrl } from './url.js';

// kafkajs is CommonJS: Node's ESM loader only sees its default export
const { ConfigResourceTypes, Kafka: KafkaClient, logLevel: LogLevel } = kafkajs;

/** Kafka's default `message.max.bytes` (1 MiB + 12 bytes), used when the broker does not say. */
export const DEFAULT_MESSAGE_MAX_BYTES = 1_048_588;
/** `connectTimeoutMs` when the factory options give none. */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

const LOG_LEVELS: Record<KafkaUrlOptions['logLevel'], logLevel> = {
  nothing: LogLevel.NOTHING,
  error: LogLevel.ERROR,
  warn: LogLevel.WARN,
  info: LogLevel.INFO,
  debug: LogLevel.DEBUG,
};

/**
 * The kafkajs client settings of a parsed URL: TLS settings from {@link tlsConfig}, sockets through
 * `sockets` when given.
 */
function kafkaConfig(
  options: KafkaUrlOptions,
  ssl: ConnectionOptions | false,
  sockets?: SocketRegistry,
): KafkaConfig {
  return {
    ...(sockets ? { socketFactory: sockets.factory } : {}),
    clientId: options.clientId,
    brokers: [...options.brokers],
    ssl,
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
  return { messageMaxBytes, replicationFactor: replicationFactorOf(options, cluster.brokers.length) };
}

/**
 * The replication factor of the topics Carrier creates: the URL's `replicationFactor`, else the
 * cluster size capped at 3.
 *
 * @throws CarrierError `INVALID_ARGUMENT` when the URL's `minInsyncReplicas` exceeds it.
 */
export function replicationFactorOf(options: KafkaUrlOptions, brokers: number): number {
  const replicationFactor = options.replicationFactor ?? Math.max(1, Math.min(3, brokers));
  // with the default replication factor, known only now (a single broker: 1)
  if (options.minInsyncReplicas !== undefined)
    checkMinInsyncReplicas(options.minInsyncReplicas, replicationFactor);
  return replicationFactor;
}

/**
 * Rejects with `sockets`' first TLS refusal (see security.ts), which kafkajs would retry for
 * seconds; `stop()` ends the watch.
 */
function tlsRefused(sockets: SocketRegistry): { refused: Promise<never>; stop: () => void } {
  let stop = () => {};
  const refused = new Promise<never>((_, reject) => {
    sockets.onTlsRefusal(reject);
    stop = () => sockets.onTlsRefusal(undefined);
  });
  refused.catch(() => {}); // read by the race, or by nobody after success
  return { refused, stop };
}

/**
 * Connects (admin client), reads the cluster size and the broker's `message.max.bytes`, and resolves
 * with the transport, all within `factory.connectTimeoutMs` (default 10 000 ms); past it every socket
 * the client opened is destroyed and none is opened any more. A refusal (SASL login, client
 * certificate, untrusted broker certificate) ends it at once: no retry can mend it.
 *
 * @throws CarrierError `AUTH_FAILED` when the broker refused the SASL login or the client
 *   certificate, `CONNECTION` when it refused or failed otherwise (also when its certificate is not
 *   trusted), `TIMEOUT` when the cluster did not answer within `connectTimeoutMs`,
 *   `INVALID_ARGUMENT` when a TLS file cannot be read.
 */
export async function createKafkaTransport(
  options: KafkaUrlOptions,
  factory: TransportFactoryOptions,
): Promise<KafkaTransport> {
  const connectTimeoutMs = factory.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const deadline = Date.now() + connectTimeoutMs;
  const ssl = await tlsConfig(options);
  const sockets = new SocketRegistry(tlsRefusal);
  const connectionTimeoutMs = Math.min(options.connectionTimeoutMs, connectTimeoutMs);
  const kafka = new KafkaClient(kafkaConfig({ ...options, connectionTimeoutMs }, ssl, sockets));
  const admin = kafka.admin();
  const watch = tlsRefused(sockets);
  const setup = readCluster(admin, options, () => Math.max(0, deadline - Date.now()));
  try {
    const cluster = await withDeadline({ what: 'connecting', ms: Math.max(1, deadline - Date.now()) }, () =>
      Promise.race([setup, watch.refused]),
    );
    const settings = { ...cluster, consumerConfig: consumerConfig(options), sockets };
    return new KafkaTransport(kafka, admin, options, settings, factory.onError);
  } catch (cause) {
    throw await failedConnect(cause, { options, admin, sockets, setup, connectTimeoutMs });
  } finally {
    watch.stop();
  }
}

/** Closes what a failed connect opened and returns the error to throw. */
async function failedConnect(
  cause: unknown,
  c: {
    options: KafkaUrlOptions;
    admin: Admin;
    sockets: SocketRegistry;
    setup: Promise<unknown>;
    connectTimeoutMs: number;
  },
): Promise<Error> {
  const { options, admin, sockets, setup } = c;
  const refusal = refusalError(cause, options);
  if (cause instanceof DeadlineError || refusal) {
    // no socket may outlive the deadline or a refusal (kafkajs' disconnect would wait for the
    // silent requests, and its retries may still open new ones)
    sockets.refuse(new Error(refusal ? 'connect refused' : 'connect deadline passed'));
    void setup.then(
      () => admin.disconnect(),
      () => admin.disconnect(),
    );
  }
  await admin.disconnect().catch(() => {});
  if (refusal) return refusal;
  if (cause instanceof DeadlineError) {
    return kafkaError(
      'TIMEOUT',
      `no answer from kafka at ${options.brokers.join(',')} within connectTimeoutMs (${c.connectTimeoutMs} ms)`,
    );
  }
  if (cause instanceof CarrierError) return cause;
  return kafkaError('CONNECTION', `cannot connect to kafka at ${options.brokers.join(',')}`, cause);
}

/**
 * The factory `connect()` from `@carrier/core` loads for `kafka://` and `kafkas://` URLs: parses
 * the URL (see {@link parseKafkaUrl}), connects within `connectTimeoutMs` (default 10 000 ms) and
 * resolves with a {@link KafkaTransport}.
 *
 * @throws CarrierError `INVALID_ARGUMENT` for a malformed URL or an unreadable TLS file,
 *   `AUTH_FAILED` when the broker refused the SASL login or the client certificate, `TIMEOUT` when
 *   no broker answered within `connectTimeoutMs`, `CONNECTION` when the cluster refused or failed
 *   (also when its certificate is not trusted).
 */
export const createTransport: TransportFactory = async (url, options) => {
  const parsed = parseKafkaUrl(url);
  if (parsed.client === 'platformatic') return (await platformaticFactory())(url, options);
  return createKafkaTransport(parsed, options);
};

/** The package that serves `?client=platformatic` (not a dependency of this one: installed by who wants it). */
const PLATFORMATIC_PACKAGE = '@carrier/adapter-kafka-platformatic';

/**
 * Imports {@link PLATFORMATIC_PACKAGE} and returns its `createTransport`, as core's `connect()`
 * loads an adapter package.
 *
 * @throws CarrierError `UNSUPPORTED` when the package is not installed or exports no `createTransport`.
 */
async function platformaticFactory(): Promise<TransportFactory> {
  let mod: { createTransport?: unknown };
  try {
    mod = (await import(PLATFORMATIC_PACKAGE)) as { createTransport?: unknown };
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    if (
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
      String(cause).includes(PLATFORMATIC_PACKAGE)
    ) {
      throw new CarrierError(
        'UNSUPPORTED',
        `kafka://…?client=platformatic needs the package ${PLATFORMATIC_PACKAGE}: npm install ${PLATFORMATIC_PACKAGE}`,
        { transport: 'kafka', cause },
      );
    }
    throw cause;
  }
  if (typeof mod.createTransport !== 'function')
    throw new CarrierError('UNSUPPORTED', `${PLATFORMATIC_PACKAGE} does not export createTransport`);
  return mod.createTransport as TransportFactory;
}
