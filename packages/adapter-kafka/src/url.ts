import { CarrierError } from '@carrier/core';
import { refuseRepeatedOptions, urlChoice, urlFlag } from '@carrier/core/kit';

/** SASL mechanisms the adapter accepts in the URL (`?sasl=`). */
export type KafkaSaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

/**
 * The Kafka client library a connection runs on (`?client=`, default `kafkajs`): `platformatic`
 * loads `@carrier/adapter-kafka-platformatic` (@platformatic/kafka), installed separately.
 */
export type KafkaClientName = 'kafkajs' | 'platformatic';

/** Everything a `kafka://` / `kafkas://` URL configures, with defaults applied. */
export interface KafkaUrlOptions {
  /** `host:port` bootstrap brokers, in URL order. */
  readonly brokers: readonly string[];
  /** The client library (`?client=kafkajs|platformatic`, default `kafkajs`). */
  readonly client: KafkaClientName;
  /** Kafka client id (`?clientId=`, default `carrier`). */
  readonly clientId: string;
  /** Partitions of topics Carrier creates (`?partitions=`, default 3). */
  readonly partitions: number;
  /** Replication factor of topics Carrier creates (`?replicationFactor=`, default min(3, brokers in the cluster)). */
  readonly replicationFactor: number | undefined;
  /**
   * `min.insync.replicas` of topics Carrier creates (`?minInsyncReplicas=`, an integer from 1 to the
   * replication factor); `undefined`: not set, the broker's default applies (Kafka's default is 1).
   * With the producer's acks=all, a write is confirmed only once this many replicas (leader
   * included) have it, and refused (`NOT_ENOUGH_REPLICAS`) while fewer are in sync.
   */
  readonly minInsyncReplicas: number | undefined;
  /** Whether Carrier creates missing topics (`?provisioning=on|off`, default on). */
  readonly provisioning: boolean;
  /** TLS: `kafkas://` or `?tls=true`. */
  readonly tls: boolean;
  /** `?tlsRejectUnauthorized=false` accepts self-signed broker certificates (tests only). */
  readonly tlsRejectUnauthorized: boolean;
  /**
   * TLS files (PEM paths, read when connecting; TLS only): `caFile` (CAs trusted for the broker's
   * certificate, in addition to Node's), `certFile` and `keyFile` (a client certificate, for
   * listeners with `ssl.client.auth=required`; both or neither), and `servername` (the name the
   * broker's certificate must carry, and the TLS SNI, when it differs from the address dialled).
   */
  readonly tlsOptions: {
    readonly caFile?: string;
    readonly certFile?: string;
    readonly keyFile?: string;
    readonly servername?: string;
  };
  /** SASL credentials from the URL's user info, mechanism from `?sasl=` (default `plain` when user info is present). */
  readonly sasl:
    | { readonly mechanism: KafkaSaslMechanism; readonly username: string; readonly password: string }
    | undefined;
  /** Consumer group session timeout (`?sessionTimeoutMs=`, default 10 000 ms; the broker's minimum is 6 000). */
  readonly sessionTimeoutMs: number;
  /**
   * Consumer group rebalance timeout (`?rebalanceTimeoutMs=`, default 30 000 ms, at least
   * `sessionTimeoutMs`): how long the coordinator waits for members to rejoin, and so how long a
   * partition being revoked waits for its handlers. A handler shorter than this less 3 s is never
   * run on two members at once; past it the delivery's lease is aborted (`LEASE_LOST`).
   */
  readonly rebalanceTimeoutMs: number;
  /**
   * Heartbeat interval in ms (`?heartbeatIntervalMs=`, default 1 000 ms, or a third of
   * `sessionTimeoutMs` when that is less); must be less than `sessionTimeoutMs` (else
   * `INVALID_ARGUMENT`, at `connect`).
   */
  readonly heartbeatIntervalMs: number;
  /** Longest a fetch waits for data (`?maxWaitTimeMs=`, default 250 ms); bounds how fast a member notices a rebalance. */
  readonly maxWaitTimeMs: number;
  /** One TCP/TLS connection attempt to a broker (`?connectionTimeoutMs=`, default 3 000 ms; capped by `connectTimeoutMs`). */
  readonly connectionTimeoutMs: number;
  /**
   * Longest any single broker request may take (`?requestTimeoutMs=`, default 20 000 ms): a broker
   * connection that goes silent (no FIN, no RST) is noticed within this, plus the fetch wait.
   */
  readonly requestTimeoutMs: number;
  /** kafkajs log level (`?logLevel=nothing|error|warn|info|debug`, default nothing). */
  readonly logLevel: 'nothing' | 'error' | 'warn' | 'info' | 'debug';
}

const DEFAULT_PORT = 9092;
const SASL: readonly KafkaSaslMechanism[] = ['plain', 'scram-sha-256', 'scram-sha-512'];
const LOG_LEVELS = ['nothing', 'error', 'warn', 'info', 'debug'] as const;
const CLIENTS: readonly KafkaClientName[] = ['kafkajs', 'platformatic'];
const KNOWN = new Set([
  'client',
  'clientId',
  'partitions',
  'replicationFactor',
  'minInsyncReplicas',
  'provisioning',
  'tls',
  'tlsRejectUnauthorized',
  'caFile',
  'certFile',
  'keyFile',
  'servername',
  'sasl',
  'sessionTimeoutMs',
  'heartbeatIntervalMs',
  'rebalanceTimeoutMs',
  'maxWaitTimeMs',
  'connectionTimeoutMs',
  'requestTimeoutMs',
  'connectTimeoutMs', // read by core's connect() and passed to the factory
  'logLevel',
  'brokers',
  'hosts',
]);

function invalid(message: string): CarrierError {
  return new CarrierError('INVALID_ARGUMENT', message, { transport: 'kafka' });
}

function integer(params: URLSearchParams, name: string, fallback: number, min: number): number {
  const raw = params.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw invalid(`${name} must be an integer >= ${min}`);
  return value;
}

/**
 * A topic's `min.insync.replicas` cannot exceed its replication factor: every acks=all write to it
 * would be refused.
 * @throws CarrierError `INVALID_ARGUMENT` when `minInsyncReplicas` > `replicationFactor`.
 */
export function checkMinInsyncReplicas(minInsyncReplicas: number, replicationFactor: number): void {
  if (minInsyncReplicas > replicationFactor) {
    throw invalid(
      `minInsyncReplicas (${minInsyncReplicas}) must not exceed the replication factor (${replicationFactor}): every write would be refused`,
    );
  }
}

function flag(params: URLSearchParams, name: string, fallback: boolean): boolean {
  return urlFlag(params, name, fallback, 'kafka');
}

const TLS_OPTIONS = ['caFile', 'certFile', 'keyFile', 'servername'] as const;

function tlsOptions(params: URLSearchParams, tls: boolean): KafkaUrlOptions['tlsOptions'] {
  const options: { -readonly [K in (typeof TLS_OPTIONS)[number]]?: string } = {};
  for (const name of TLS_OPTIONS) {
    const value = params.get(name);
    if (value === null) continue;
    if (value === '') throw invalid(`${name} is empty`);
    options[name] = value;
  }
  if (!tls && Object.keys(options).length > 0)
    throw invalid(`${Object.keys(options).join(', ')} need TLS: a kafkas:// URL or ?tls=true`);
  if ((options.certFile === undefined) !== (options.keyFile === undefined))
    throw invalid('certFile and keyFile go together');
  return options;
}

function hostPort(entry: string, port: number): string {
  const trimmed = entry.trim();
  if (trimmed === '') throw invalid('empty broker address in the URL');
  // host:port, [ipv6]:port, or a bare host that takes the URL's port
  if (/^\[.*\]:\d+$/.test(trimmed) || /^[^:[\]]+:\d+$/.test(trimmed)) return trimmed;
  return `${trimmed}:${port}`;
}

/**
 * Parse `kafka://host[,host2][:port][?options]` or `kafkas://…` (TLS). Several brokers with the
 * same port: `kafka://h1,h2,h3:9092`; with different ports `kafka://h1:9092,h2:9093` (core's
 * `parseCarrierUrl` moves the extra pairs to `?hosts=`) or `?brokers=h2:9093,h3:9094`. Credentials in the user info enable SASL.
 * Durability of the topics Carrier creates: `?replicationFactor=` (default min(3, brokers)) and
 * `?minInsyncReplicas=` (`min.insync.replicas`, 1 to the replication factor; default: the broker's).
 * TLS: `kafkas://`, with `caFile`, `certFile`/`keyFile` (mutual TLS) and `servername`; SASL over
 * TLS: `kafkas://user:password@host:9093?sasl=scram-sha-512&caFile=/etc/kafka/ca.pem`.
 *
 * Enumerated values (`client`, `sasl`, `logLevel`) and flags (`provisioning`, `tls`,
 * `tlsRejectUnauthorized`: `true`/`false`, `on`/`off`, `yes`/`no`, `1`/`0`) are read in any case;
 * every option is given at most once (core's rules: `urlChoice`, `urlFlag`, `refuseRepeatedOptions`
 * of `@carrier/core/kit`).
 *
 * @throws CarrierError `INVALID_ARGUMENT` for an unknown or repeated option, a malformed value (an
 *   enumerated one lists the allowed values) or `heartbeatIntervalMs` >= `sessionTimeoutMs`; the
 *   message never contains the credentials.
 */
export function parseKafkaUrl(url: URL): KafkaUrlOptions {
  if (url.protocol !== 'kafka:' && url.protocol !== 'kafkas:')
    throw invalid(`not a kafka URL: ${url.protocol}//`);
  const params = url.searchParams;
  for (const name of params.keys())
    if (!KNOWN.has(name)) throw invalid(`unknown kafka URL option ${JSON.stringify(name)}`);
  refuseRepeatedOptions(url, 'kafka');
  const port = url.port === '' ? DEFAULT_PORT : Number(url.port);
  const hosts = decodeURIComponent(url.hostname)
    .split(',')
    .filter((h) => h !== '');
  const brokers = hosts.map((h) => hostPort(h, port));
  for (const extra of [params.get('brokers') ?? '', params.get('hosts') ?? '']
    .join(',')
    .split(',')
    .filter((b) => b.trim() !== '')) {
    brokers.push(hostPort(extra, DEFAULT_PORT));
  }
  if (brokers.length === 0) throw invalid('the kafka URL names no broker');
  const username = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const saslName = params.get('sasl');
  let sasl: KafkaUrlOptions['sasl'];
  if (saslName !== null || username !== '') {
    const mechanism = urlChoice(params, 'sasl', SASL, 'plain', 'kafka');
    if (username === '') throw invalid('SASL needs a user name and password in the URL');
    sasl = { mechanism, username, password };
  }
  const client = urlChoice(params, 'client', CLIENTS, 'kafkajs', 'kafka');
  const logLevel = urlChoice(params, 'logLevel', LOG_LEVELS, 'nothing', 'kafka');
  const rf = params.get('replicationFactor');
  const replicationFactor = rf === null ? undefined : integer(params, 'replicationFactor', 1, 1);
  const minInsyncReplicas = params.has('minInsyncReplicas')
    ? integer(params, 'minInsyncReplicas', 1, 1)
    : undefined;
  if (minInsyncReplicas !== undefined && replicationFactor !== undefined)
    checkMinInsyncReplicas(minInsyncReplicas, replicationFactor);
  const tls = url.protocol === 'kafkas:' || flag(params, 'tls', false);
  const sessionTimeoutMs = integer(params, 'sessionTimeoutMs', 10_000, 1);
  const heartbeatIntervalMs = integer(
    params,
    'heartbeatIntervalMs',
    Math.min(1_000, Math.floor(sessionTimeoutMs / 3)),
    1,
  );
  // Kafka's consumers require it (the Java client's and @platformatic/kafka's checks; kafkajs has none)
  if (heartbeatIntervalMs >= sessionTimeoutMs)
    throw invalid(
      `heartbeatIntervalMs (${heartbeatIntervalMs}) must be less than sessionTimeoutMs (${sessionTimeoutMs}): the group coordinator would drop the member between two heartbeats`,
    );
  return {
    brokers,
    client,
    clientId: params.get('clientId') ?? 'carrier',
    partitions: integer(params, 'partitions', 3, 1),
    replicationFactor,
    minInsyncReplicas,
    provisioning: flag(params, 'provisioning', true),
    tls,
    tlsRejectUnauthorized: flag(params, 'tlsRejectUnauthorized', true),
    tlsOptions: tlsOptions(params, tls),
    sasl,
    sessionTimeoutMs,
    rebalanceTimeoutMs: Math.max(sessionTimeoutMs, integer(params, 'rebalanceTimeoutMs', 30_000, 1)),
    heartbeatIntervalMs,
    maxWaitTimeMs: integer(params, 'maxWaitTimeMs', 250, 0),
    connectionTimeoutMs: integer(params, 'connectionTimeoutMs', 3_000, 1),
    requestTimeoutMs: integer(params, 'requestTimeoutMs', 20_000, 100),
    logLevel,
  };
}
