import { CarrierError } from '@carrier/core';
import { refuseRepeatedOptions, urlChoice } from '@carrier/core/kit';

/** Queue type of the queues Carrier declares. */
export type QueueType = 'quorum' | 'classic';

/** RabbitMQ's default `max_message_size` from 3.8 to 3.13: 128 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 128 * 1024 * 1024;
/** RabbitMQ's default `max_message_size` from 4.0 on: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES_V4 = 16 * 1024 * 1024;

/**
 * The default `max_message_size` of a RabbitMQ server of this version (the `version` server
 * property): 16 MiB from 4.0, 128 MiB before. Unknown versions get the smaller one.
 */
export function defaultMaxMessageBytes(serverVersion: unknown): number {
  const major = typeof serverVersion === 'string' ? Number.parseInt(serverVersion, 10) : Number.NaN;
  return Number.isInteger(major) && major < 4 ? DEFAULT_MAX_MESSAGE_BYTES : DEFAULT_MAX_MESSAGE_BYTES_V4;
}
/**
 * Heartbeat (seconds) asked for when the URL does not say (`?heartbeat=`, amqplib's parameter): amqplib
 * declares the connection dead after two heartbeat periods without any frame from the broker, so a
 * silent connection is noticed within about 30 s.
 */
const DEFAULT_HEARTBEAT_SECONDS = 15;
/** How long calls wait for a lost connection to come back before failing, by default. */
const DEFAULT_RECOVERY_TIMEOUT_MS = 30_000;
/** Longest pause between two reconnection attempts, by default. */
const DEFAULT_RECONNECT_MAX_DELAY_MS = 5_000;

/** Settings of one RabbitMQ transport, read from its URL. */
export interface RabbitSettings {
  /** The URL handed to amqplib for the first host: Carrier's own query parameters removed, heartbeat defaulted. */
  readonly amqpUrl: string;
  /**
   * One amqplib URL per host, in the URL's order: the authority's hosts first (`h1,h2:5672` share
   * the port), then those of `?hosts=` (where core's `parseCarrierUrl` moves the pairs of
   * `amqp://u:p@h1:5672,h2:5673/vhost`). Each holds the same user, password, vhost and parameters
   * as {@link amqpUrl} (its first entry); the TLS options apply to every host.
   */
  readonly amqpUrls: readonly string[];
  /** Type of the group, delay and dead-letter queues Carrier declares (`?queueType=`, any case, default quorum). */
  readonly queueType: QueueType;
  /**
   * Largest message accepted, in bytes (`?maxMessageBytes=`); `undefined` means the default
   * `max_message_size` of the server's version: 128 MiB before 4.0, 16 MiB from 4.0.
   */
  readonly maxMessageBytes: number | undefined;
  /** How long a call waits for a lost connection to come back (`?recoveryTimeout=` ms, default 30 000). */
  readonly recoveryTimeoutMs: number;
  /** Longest pause between reconnection attempts (`?reconnectMaxDelay=` ms, default 5 000). */
  readonly reconnectMaxDelayMs: number;
  /**
   * Deadline of the TCP connect and AMQP handshake, first connection and reconnections alike
   * (`?connectTimeoutMs=` ms); `undefined` when the URL does not say: the factory's
   * `connectTimeoutMs` (default 10 000) applies.
   */
  readonly connectTimeoutMs: number | undefined;
  /**
   * TLS options for `amqps://`: `caFile` (PEM path of trusted CAs, in addition to Node's),
   * `certFile` and `keyFile` (PEM paths of the client certificate and its unencrypted key, for
   * brokers that require one; read when connecting), `servername` (the name sent as SNI and checked
   * against the server certificate; default the URL's host when it is a name, none for an IP address).
   */
  readonly tls: TlsSettings;
  /**
   * SASL mechanism of the login (`?mechanism=`, any case): `PLAIN` (default; user and password of the URL) or
   * `EXTERNAL` (the broker takes the user from the client certificate; needs `amqps://`, `certFile`
   * and `keyFile`, and the broker's `rabbitmq_auth_mechanism_ssl` plugin).
   */
  readonly mechanism: 'PLAIN' | 'EXTERNAL';
}

/** TLS options of an `amqps://` URL (see {@link RabbitSettings.tls}). */
export interface TlsSettings {
  /** `?caFile=`: PEM path of CAs trusted in addition to Node's. */
  readonly caFile?: string;
  /** `?certFile=`: PEM path of the client certificate. */
  readonly certFile?: string;
  /** `?keyFile=`: PEM path of the client certificate's unencrypted key. */
  readonly keyFile?: string;
  /** `?servername=`: SNI and the name checked in the server certificate. */
  readonly servername?: string;
}

const CARRIER_PARAMS = [
  'hosts',
  'queueType',
  'maxMessageBytes',
  'recoveryTimeout',
  'reconnectMaxDelay',
  'connectTimeoutMs',
  'caFile',
  'certFile',
  'keyFile',
  'servername',
  'mechanism',
] as const;

function positiveInteger(url: URL, name: string, fallback: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new CarrierError('INVALID_ARGUMENT', `${name} must be a positive integer`, {
      transport: 'rabbitmq',
    });
  }
  return value;
}

function tlsFiles(url: URL): TlsSettings {
  const tls: { -readonly [K in keyof TlsSettings]: TlsSettings[K] } = {};
  for (const name of ['caFile', 'certFile', 'keyFile', 'servername'] as const) {
    const value = url.searchParams.get(name);
    if (value !== null && value.length > 0) tls[name] = value;
  }
  if (Object.keys(tls).length > 0 && url.protocol !== 'amqps:') {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      'caFile, certFile, keyFile and servername need an amqps:// URL',
      { transport: 'rabbitmq' },
    );
  }
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new CarrierError('INVALID_ARGUMENT', 'certFile and keyFile go together', { transport: 'rabbitmq' });
  }
  return tls;
}

const MECHANISMS: readonly RabbitSettings['mechanism'][] = ['PLAIN', 'EXTERNAL'];
const QUEUE_TYPES: readonly QueueType[] = ['quorum', 'classic'];

function mechanismOf(url: URL, tls: TlsSettings): RabbitSettings['mechanism'] {
  const mechanism = urlChoice(url.searchParams, 'mechanism', MECHANISMS, 'PLAIN', 'rabbitmq');
  if (mechanism === 'EXTERNAL' && (url.protocol !== 'amqps:' || tls.certFile === undefined)) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      'mechanism=EXTERNAL logs in with the client certificate: it needs amqps://, certFile and keyFile',
      { transport: 'rabbitmq' },
    );
  }
  if (mechanism === 'EXTERNAL' && (url.username !== '' || url.password !== '')) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      'mechanism=EXTERNAL takes the user from the client certificate: remove the user and password from the URL',
      { transport: 'rabbitmq' },
    );
  }
  return mechanism;
}

/** Default port of the scheme: 5672 for `amqp://`, 5671 for `amqps://` (RabbitMQ's listeners). */
function defaultPort(url: URL): string {
  return url.protocol === 'amqps:' ? '5671' : '5672';
}

/** `host`, `host:port`, `[v6]` or `[v6]:port`, with a port from 1 to 65535. */
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[^\s:/?#@[\],]+)(?::(\d{1,5}))?$/;

/**
 * `host:port` of each host: the authority's (several share its port: `amqp://h1,h2:5672`), then
 * those of `?hosts=h2:5673,h3` (the scheme's default port when one has none).
 * @throws CarrierError `INVALID_ARGUMENT` for an entry that is no `host[:port]` (the message quotes
 *   the entry unless it holds `@`, i.e. user info).
 */
function hostsOf(url: URL): string[] {
  const port = url.port || defaultPort(url);
  // no host at all (`amqp:///vhost`): amqplib's default (localhost), as before
  const entries = url.hostname === '' ? [] : url.hostname.split(',').map((h) => `${h}:${port}`);
  for (const extra of (url.searchParams.get('hosts') ?? '').split(',')) {
    const entry = extra.trim();
    if (entry.length > 0) entries.push(entry);
  }
  return entries.map((entry) => {
    const match = HOST_PORT.exec(entry);
    const portNumber = Number(match?.[2] ?? defaultPort(url));
    if (!match || match[1] === '' || portNumber < 1 || portNumber > 65_535) {
      // an entry with user info is not quoted: credentials belong in the URL's user info only
      const what = entry.includes('@') ? 'an entry holding @' : JSON.stringify(entry);
      throw new CarrierError('INVALID_ARGUMENT', `hosts: ${what} is not host[:port]`, {
        transport: 'rabbitmq',
      });
    }
    return `${match[1]}:${portNumber}`;
  });
}

/**
 * Read an `amqp://` or `amqps://` URL: `amqp://user:pass@host:port/vhost?heartbeat=15&queueType=quorum`.
 * amqplib's own parameters (`heartbeat` in s, default 15; `frameMax`, `channelMax`, `locale`) pass
 * through; Carrier's are removed before the URL reaches amqplib:
 * - `queueType`: `quorum` (default) or `classic`;
 * - `maxMessageBytes` (bytes; default the server version's `max_message_size`);
 * - `recoveryTimeout` (ms, default 30 000), `reconnectMaxDelay` (ms, default 5 000);
 * - `connectTimeoutMs` (ms; default: the factory's `connectTimeoutMs`, else 10 000);
 * - for `amqps://` only: `caFile`, `certFile`, `keyFile` (PEM paths), `servername` (SNI and the
 *   name checked in the server certificate), `mechanism=EXTERNAL` (log in with the client
 *   certificate: no user or password in the URL).
 *
 * Several hosts (the nodes of a cluster): `amqp://u:p@h1:5672,h2:5673,h3:5674/vhost` (core moves the
 * extra pairs to `?hosts=h2:5673,h3:5674`), `amqp://u:p@h1,h2,h3:5672/vhost` (one shared port), or
 * `?hosts=` written directly; a host without a port gets the scheme's (5672, `amqps://` 5671). The
 * transport connects to the first host that accepts, and after a connection loss dials the hosts
 * in turn from the next one (see {@link RabbitSettings.amqpUrls}).
 *
 * Example: `amqps://broker.example:5671/app?caFile=/etc/carrier/ca.pem&certFile=/etc/carrier/app.pem&keyFile=/etc/carrier/app.key&mechanism=EXTERNAL`.
 *
 * `queueType` and `mechanism` are read in any case; every parameter, amqplib's included, is given
 * at most once (core's rules: `urlChoice`, `refuseRepeatedOptions` of `@carrier/core/kit`).
 *
 * @throws CarrierError `INVALID_ARGUMENT` for another scheme, a repeated parameter or an invalid
 *   parameter value (an enumerated one lists the allowed values).
 */
export function parseRabbitUrl(url: URL): RabbitSettings {
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') {
    throw new CarrierError('INVALID_ARGUMENT', `not an amqp:// or amqps:// URL: ${url.protocol}//`, {
      transport: 'rabbitmq',
    });
  }
  refuseRepeatedOptions(url, 'rabbitmq');
  const queueType = urlChoice(url.searchParams, 'queueType', QUEUE_TYPES, 'quorum', 'rabbitmq');
  const tls = tlsFiles(url);
  const settings = {
    queueType,
    maxMessageBytes: url.searchParams.has('maxMessageBytes')
      ? positiveInteger(url, 'maxMessageBytes', 1)
      : undefined,
    recoveryTimeoutMs: positiveInteger(url, 'recoveryTimeout', DEFAULT_RECOVERY_TIMEOUT_MS),
    reconnectMaxDelayMs: positiveInteger(url, 'reconnectMaxDelay', DEFAULT_RECONNECT_MAX_DELAY_MS),
    connectTimeoutMs: url.searchParams.has('connectTimeoutMs')
      ? positiveInteger(url, 'connectTimeoutMs', 1)
      : undefined,
    tls,
    mechanism: mechanismOf(url, tls),
  } as const;
  const hosts = hostsOf(url);
  const amqp = new URL(url.href);
  for (const name of CARRIER_PARAMS) amqp.searchParams.delete(name);
  if (!amqp.searchParams.has('heartbeat'))
    amqp.searchParams.set('heartbeat', String(DEFAULT_HEARTBEAT_SECONDS));
  const amqpUrls =
    hosts.length === 0
      ? [amqp.href]
      : hosts.map((host) => {
          const one = new URL(amqp.href);
          one.host = host;
          return one.href;
        });
  return { ...settings, amqpUrl: amqpUrls[0]!, amqpUrls };
}
