import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { CarrierError } from '@carrier/core';
import { refuseRepeatedOptions, urlChoice, urlFlag } from '@carrier/core/kit';
import { nkeys } from '@nats-io/transport-node';
import { fail } from './errors.js';

/** Stream retention of topic streams: `interest` (default) or `limits`. */
export type Retention = 'interest' | 'limits';

/** Everything a `nats://` URL configures: the connection and how Carrier lays out JetStream. */
export interface NatsSettings {
  /** `host:port` of every seed server (port 4222 unless given; `127.0.0.1:4222` for a URL without host). */
  readonly servers: readonly string[];
  /** User name of user/password authentication (from the URL's user info, percent-decoded). */
  readonly user?: string | undefined;
  /** Password of user/password authentication. */
  readonly pass?: string | undefined;
  /** Token authentication: `?token=`, or a user info without password. */
  readonly token?: string | undefined;
  /**
   * NKey authentication (`?nkeySeedFile=`, the path of a file holding a user seed `SU…`): the
   * public key (`U…`, safe to print) and a function reading the seed from the file, called at each
   * (re)connection to sign the server's nonce. The seed is never kept in memory between connections.
   */
  readonly nkey?: { readonly publicKey: string; readonly seed: () => Uint8Array } | undefined;
  /**
   * TLS options for nats.js (PEM contents of `tlsCa`, `tlsCert`, `tlsKey`), set when any TLS option
   * is given; undefined otherwise, and nats.js still upgrades when the server requires or offers TLS.
   */
  readonly tls?: { ca?: string; cert?: string; key?: string; handshakeFirst?: boolean } | undefined;
  /** Connection name shown by the server (`connz`). Default `carrier`. */
  readonly name: string;
  /**
   * `num_replicas` of every stream Carrier creates (`?replicas=`, 1 to 5, JetStream's maximum):
   * the topic streams, the dead-letter streams and the release-record stream. Default 1. A stream
   * with R replicas needs a JetStream cluster of at least R servers.
   */
  readonly replicas: number;
  /** Retention of topic streams. Default `interest`. */
  readonly retention: Retention;
  /** `max_age` of topic-stream messages, in ms; 0 (the default) = unlimited. */
  readonly maxAgeMs: number;
  /** `max_age` of dead letters, in ms; 0 (the default) = kept until read or redriven. */
  readonly deadLetterMaxAgeMs: number;
  /**
   * `ack_wait` of the group consumers, in ms (≥ 1 000, default 10 000): how long an unsettled
   * delivery of a crashed member stays leased. Live members renew it every third of it (`+WPI`).
   */
  readonly ackWaitMs: number;
  /** Group-wide `max_ack_pending`, ≥ 1 (default 1 000; raised to a member's prefetch if that is larger). */
  readonly maxAckPending: number;
  /** Deadline of one publish (PubAck), one settlement and one JetStream API call, in ms (≥ 100, default 10 000). */
  readonly requestTimeoutMs: number;
  /**
   * Deadline of the first connection (and of each reconnection attempt), in ms; `undefined` when
   * the URL does not say: the factory's `connectTimeoutMs` (default 10 000) applies.
   */
  readonly connectTimeoutMs: number | undefined;
  /** Interval of the client's PINGs, in ms (≥ 100, default 10 000). */
  readonly pingIntervalMs: number;
  /**
   * PINGs without PONG after which the connection is declared dead and re-established (default 2):
   * with the defaults a silent connection is noticed within about `pingIntervalMs × (maxPingOut + 1)`
   * = 30 s even when no consumer waits for messages; a waiting consumer notices within about 8 s.
   */
  readonly maxPingOut: number;
  /** Pause between reconnection attempts, in ms (≥ 10, default 500); the client retries forever. */
  readonly reconnectWaitMs: number;
}

const DEFAULTS = {
  replicas: 1,
  retention: 'interest' as Retention,
  maxAgeMs: 0,
  deadLetterMaxAgeMs: 0,
  ackWaitMs: 10_000,
  maxAckPending: 1_000,
  requestTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  reconnectWaitMs: 500,
  pingIntervalMs: 10_000,
  maxPingOut: 2,
};

const KNOWN = new Set([
  'servers',
  'hosts',
  'token',
  'nkeySeedFile',
  'tls',
  'tlsCa',
  'tlsCert',
  'tlsKey',
  'tlsHandshakeFirst',
  'name',
  'replicas',
  'retention',
  'maxAgeMs',
  'deadLetterMaxAgeMs',
  'ackWaitMs',
  'maxAckPending',
  'requestTimeoutMs',
  'connectTimeoutMs',
  'reconnectWaitMs',
  'pingIntervalMs',
  'maxPingOut',
]);

function invalid(message: string): CarrierError {
  return fail('INVALID_ARGUMENT', message);
}

function integer(params: URLSearchParams, name: keyof typeof DEFAULTS, min: number): number {
  const raw = params.get(name);
  if (raw === null) return DEFAULTS[name] as number;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min)
    throw invalid(`nats URL option ${name} must be an integer >= ${min}`);
  return value;
}

/** JetStream keeps at most 5 replicas of a stream (nats-server refuses more). */
export const MAX_REPLICAS = 5;

/** `?replicas=`: an integer from 1 to {@link MAX_REPLICAS}. @throws CarrierError `INVALID_ARGUMENT` otherwise. */
function replicasOf(params: URLSearchParams): number {
  const replicas = integer(params, 'replicas', 1);
  if (replicas > MAX_REPLICAS)
    throw invalid(`nats URL option replicas must be from 1 to ${MAX_REPLICAS} (JetStream's maximum)`);
  return replicas;
}

function bool(params: URLSearchParams, name: string): boolean {
  return urlFlag(params, name, false, 'nats');
}

const RETENTIONS: readonly Retention[] = ['interest', 'limits'];

function readPem(params: URLSearchParams, name: string): string | undefined {
  const file = params.get(name);
  if (file === null) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw fail('INVALID_ARGUMENT', `nats URL option ${name}: cannot read ${file}`, cause);
  }
}

/**
 * Parse `nats://[user:pass@|token@]host[,host2…][:port][?options]`.
 *
 * - Several servers: hosts separated by commas share the URL's port (`nats://a,b,c:4222`); any
 *   port per host with `nats://host1:4222,host2:4223` (core's `parseCarrierUrl` moves the extra
 *   pairs to `?hosts=`) or `?servers=host2:4223,host3:4224`.
 * - Credentials: `user:pass@` for user/password, a user without password is a token
 *   (as the NATS CLI reads `nats://token@host`), or `?token=`; or `?nkeySeedFile=` (path of a
 *   file holding an NKey user seed, `SU…`, as `nk -gen user` writes it).
 * - TLS: `?tls=true`, with optional `tlsCa` (PEM path of the CAs to trust instead of Node's),
 *   `tlsCert` and `tlsKey` (PEM paths of the client certificate and its unencrypted key, for a
 *   server with `verify: true`) and `tlsHandshakeFirst`; any of them implies `tls=true`.
 *
 * Example: `nats://app:s3cret@nats.example:4222?tls=true&tlsCa=/etc/carrier/ca.pem`.
 * - Layout: `replicas`, `retention` (`interest`|`limits`), `maxAgeMs`, `deadLetterMaxAgeMs`,
 *   `ackWaitMs`, `maxAckPending`; client: `requestTimeoutMs`, `connectTimeoutMs`, `reconnectWaitMs`, `name`;
 *   liveness: `pingIntervalMs` (default 10 000), `maxPingOut` (default 2).
 *
 * `retention` and the flags (`tls`, `tlsHandshakeFirst`: `true`/`false`, `on`/`off`, `yes`/`no`,
 * `1`/`0`) are read in any case; every option is given at most once (core's rules: `urlChoice`,
 * `urlFlag`, `refuseRepeatedOptions` of `@carrier/core/kit`).
 *
 * @throws CarrierError `INVALID_ARGUMENT` for unknown, repeated or malformed options (an enumerated
 *   one lists the allowed values; never echoing credentials).
 */
export function parseNatsUrl(url: URL): NatsSettings {
  if (url.protocol !== 'nats:') throw invalid(`not a nats:// URL (${url.protocol}//)`);
  const params = url.searchParams;
  for (const key of params.keys()) {
    if (!KNOWN.has(key)) throw invalid(`unknown nats URL option ${JSON.stringify(key)}`);
  }
  refuseRepeatedOptions(url, 'nats');
  const servers = serversOf(url);
  const { user, pass, token } = credentialsOf(url);
  const nkey = nkeyOf(params);
  if (nkey && (user !== undefined || token !== undefined))
    throw invalid('nats URL: give either nkeySeedFile or a user/password or token, not both');
  const retention = urlChoice(params, 'retention', RETENTIONS, DEFAULTS.retention, 'nats');
  const tls = tlsOf(params);
  return {
    servers,
    user,
    pass,
    token,
    nkey,
    tls,
    name: params.get('name') ?? 'carrier',
    replicas: replicasOf(params),
    retention,
    maxAgeMs: integer(params, 'maxAgeMs', 0),
    deadLetterMaxAgeMs: integer(params, 'deadLetterMaxAgeMs', 0),
    ackWaitMs: integer(params, 'ackWaitMs', 1_000),
    maxAckPending: integer(params, 'maxAckPending', 1),
    requestTimeoutMs: integer(params, 'requestTimeoutMs', 100),
    connectTimeoutMs: params.has('connectTimeoutMs') ? integer(params, 'connectTimeoutMs', 1) : undefined,
    reconnectWaitMs: integer(params, 'reconnectWaitMs', 10),
    pingIntervalMs: integer(params, 'pingIntervalMs', 100),
    maxPingOut: integer(params, 'maxPingOut', 1),
  };
}

/** `host:port` of the URL's hosts (sharing its port, default 4222), then of `?servers=` and `?hosts=`. */
function serversOf(url: URL): string[] {
  const params = url.searchParams;
  const port = url.port || '4222';
  const hosts = url.hostname ? url.hostname.split(',').filter((h) => h.length > 0) : ['127.0.0.1'];
  const servers = hosts.map((h) => `${h}:${port}`);
  for (const extra of [params.get('servers') ?? '', params.get('hosts') ?? ''].join(',').split(',')) {
    const s = extra.trim();
    if (s.length === 0) continue;
    servers.push(/:\d+$/.test(s) ? s : `${s}:4222`);
  }
  return servers;
}

/** User and password, or a token (`?token=`, or a user without password). */
function credentialsOf(url: URL): Pick<NatsSettings, 'user' | 'pass' | 'token'> {
  const user = url.username ? decodeURIComponent(url.username) : undefined;
  const pass = url.password ? decodeURIComponent(url.password) : undefined;
  const token = url.searchParams.get('token') ?? undefined;
  if (user !== undefined && token !== undefined)
    throw invalid('nats URL: give either a user and password or a token (?token=), not both');
  if (user === undefined || pass !== undefined) return { user, pass, token };
  if (token !== undefined) throw invalid('give a token either as nats://token@host or as ?token=, not both');
  return { user: undefined, pass, token: user };
}

/** The NKey of `?nkeySeedFile=`: the file is read and checked now (its content never in an error). */
function nkeyOf(params: URLSearchParams): NatsSettings['nkey'] {
  const file = params.get('nkeySeedFile');
  if (file === null) return undefined;
  const seed = (): Uint8Array => {
    try {
      return new TextEncoder().encode(readFileSync(file, 'utf8').trim());
    } catch (cause) {
      throw fail('INVALID_ARGUMENT', `nats URL option nkeySeedFile: cannot read ${file}`, cause);
    }
  };
  let publicKey: string;
  try {
    const pair = nkeys.fromSeed(seed());
    publicKey = pair.getPublicKey();
    pair.clear();
  } catch (cause) {
    if ((cause as { code?: unknown }).code === 'INVALID_ARGUMENT') throw cause;
    // nkeys' messages do not quote the seed, but its cause is not kept anyway
    throw invalid(`nats URL option nkeySeedFile: ${file} does not hold an NKey seed`);
  }
  if (!publicKey.startsWith('U'))
    throw invalid(`nats URL option nkeySeedFile: ${file} holds a seed that is not a user's (SU…)`);
  return { publicKey, seed };
}

/** TLS options when any TLS option is given (PEM files read now), else undefined. */
function tlsOf(params: URLSearchParams): NatsSettings['tls'] {
  const tlsWanted =
    bool(params, 'tls') ||
    params.has('tlsCa') ||
    params.has('tlsCert') ||
    params.has('tlsKey') ||
    bool(params, 'tlsHandshakeFirst');
  if (!tlsWanted) return undefined;
  if (params.has('tlsCert') !== params.has('tlsKey'))
    throw invalid('nats URL options tlsCert and tlsKey go together (a client certificate and its key)');
  const tls: NonNullable<NatsSettings['tls']> = {};
  const ca = readPem(params, 'tlsCa');
  const cert = readPem(params, 'tlsCert');
  const key = readPem(params, 'tlsKey');
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  if (bool(params, 'tlsHandshakeFirst')) tls.handshakeFirst = true;
  checkTlsFiles(params, tls);
  return tls;
}

/**
 * Build the TLS context once now, so that a key that is not the certificate's, or a file holding
 * no certificate, is `INVALID_ARGUMENT` naming the files, not a connect failure with OpenSSL's
 * text. OpenSSL's reason (`key values mismatch`, `no start line`) quotes no file content.
 */
function checkTlsFiles(params: URLSearchParams, tls: NonNullable<NatsSettings['tls']>): void {
  try {
    createSecureContext({ ca: tls.ca, cert: tls.cert, key: tls.key });
  } catch (cause) {
    const named = ['tlsCa', 'tlsCert', 'tlsKey']
      .filter((n) => params.has(n))
      .map((n) => `${n} ${params.get(n)}`)
      .join(', ');
    const reason = (cause as Error).message.replace(/^error:[0-9A-F]+:/, '');
    throw invalid(`nats URL options ${named}: unusable TLS files: ${reason}`);
  }
}
