import type { Transport, TransportFactory, TransportFactoryOptions } from '@carrier/core';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { type ConnectionOptions, type NatsConnection, nkeyAuthenticator } from '@nats-io/transport-node';
import { Connectivity } from './connectivity.js';
import { connectWithDeadline } from './dial.js';
import { connectFailure, fail, isAuthorizationError, loginOf } from './errors.js';
import { NatsTransport } from './nats-transport.js';
import { type NatsSettings, parseNatsUrl } from './url.js';
import { versionAtLeast } from './version.js';

/** The oldest nats-server that has everything used here (multiple filter subjects). */
const MIN_SERVER = [2, 10, 0] as const;
/** Connect deadline when neither the factory option nor the URL gives one, in ms. */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** nats.js connection options of the settings: reconnect forever, each dial within `connectTimeoutMs`. */
function connectionOptions(settings: NatsSettings, connectTimeoutMs: number): ConnectionOptions {
  return {
    servers: [...settings.servers],
    user: settings.user,
    pass: settings.pass,
    token: settings.token,
    ...(settings.nkey ? { authenticator: nkeyAuthenticator(settings.nkey.seed) } : {}),
    // undefined (not null): nats.js then upgrades to TLS whenever the server requires or offers it
    ...(settings.tls ? { tls: settings.tls } : {}),
    name: settings.name,
    timeout: connectTimeoutMs,
    pingInterval: settings.pingIntervalMs,
    maxPingOut: settings.maxPingOut,
    maxReconnectAttempts: -1,
    // an authorization error twice in a row during reconnection closes the connection (nats.js's
    // default, said here on purpose): retrying refused credentials cannot succeed
    reconnectTimeWait: settings.reconnectWaitMs,
    ignoreAuthErrorAbort: false,
    // the first connect tries each server once and fails with the last error: a refused login fails
    // connect() after one handshake per server, not at the connect deadline
    waitOnFirstConnect: false,
    // no call-site Error (a stack capture) made up front for every request and its timer: every
    // settlement and publish is a request, and these two allocations were a tenth of the client's
    // CPU per message. Carrier wraps each request's error in a CarrierError that says what failed.
    noAsyncTraces: true,
  };
}

/** Check what the server offers (TLS if asked, version, JetStream) and build the transport on `nc`. */
async function onConnection(
  nc: NatsConnection,
  settings: NatsSettings,
  options: TransportFactoryOptions,
): Promise<NatsTransport> {
  if (settings.tls && !nc.info?.tls_required && !nc.info?.tls_available) {
    // nats.js only upgrades when the server offers TLS: never fall back to plain text silently
    throw fail('CONNECTION', 'TLS was requested (?tls) but the nats-server does not offer TLS');
  }
  const version = nc.info?.version ?? '0.0.0';
  if (!versionAtLeast(version, MIN_SERVER)) {
    throw fail(
      'UNSUPPORTED',
      `nats-server ${version} is too old: Carrier needs ${MIN_SERVER.join('.')} or later`,
    );
  }
  // every request of the transport (JetStream publishes and API calls, acks) waits for a
  // reconnect and fails when the connection drops, instead of waiting for a reply that cannot come
  const guarded = new Connectivity(nc).guard(nc);
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(guarded, { timeout: settings.requestTimeoutMs });
  } catch (cause) {
    throw fail('CONNECTION', `JetStream does not answer on this nats-server (is it enabled, -js?)`, cause);
  }
  reportRefusedReconnection(nc, settings, options);
  return new NatsTransport(guarded, jsm, settings, options);
}

/**
 * nats.js closes the connection when the server refuses the login twice in a row while it
 * reconnects (`ignoreAuthErrorAbort: false`); calls then fail with `CLOSED`. Say why, once, with
 * `AUTH_FAILED` to `onError`: the credentials were refused (a password changed, a user removed).
 */
function reportRefusedReconnection(
  nc: NatsConnection,
  settings: NatsSettings,
  options: TransportFactoryOptions,
): void {
  void nc.closed().then((error) => {
    if (error && isAuthorizationError(error)) {
      options.onError(
        fail(
          'AUTH_FAILED',
          `nats-server (${settings.servers.join(', ')}) refused the login with ${loginOf(settings)} while reconnecting; the connection is closed: connect again once the credentials are valid`,
          error,
        ),
      );
    }
  });
}

/**
 * Connect to nats-server and check that JetStream answers and the server is recent enough
 * (2.10+: consumers with several filter subjects). The connect deadline is
 * `options.connectTimeoutMs`, else the URL's `connectTimeoutMs`, else 10 000 ms; it bounds the
 * first connection and each later reconnection attempt.
 *
 * @throws CarrierError `AUTH_FAILED` when the server refused the credentials or the client
 *   certificate; `CONNECTION` when no server can be reached, its certificate is not trusted, TLS was
 *   asked and is not offered, or JetStream is not enabled; `TIMEOUT` when the dial hit the
 *   deadline; `UNSUPPORTED` for a server older than 2.10.
 */
export async function createNatsTransport(
  settings: NatsSettings,
  options: TransportFactoryOptions,
): Promise<NatsTransport> {
  // the factory option wins (core resolves ConnectOptions, then the URL); else the URL, else 10 s
  const connectTimeoutMs =
    options.connectTimeoutMs ?? settings.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  let nc: NatsConnection;
  try {
    nc = await connectWithDeadline(connectionOptions(settings, connectTimeoutMs));
  } catch (cause) {
    throw connectFailure(cause, settings);
  }
  try {
    return await onConnection(nc, settings, options);
  } catch (error) {
    await nc.close().catch(() => {});
    throw error;
  }
}

/**
 * The `nats://` transport factory that `connect()` of `@carrier/core` loads. Resolves once the
 * server answered and JetStream is available; see {@link parseNatsUrl} for the URL's options.
 *
 * @throws CarrierError `INVALID_ARGUMENT` for a malformed URL or an unreadable TLS or seed file,
 *   `AUTH_FAILED` when the server refused the credentials (user/password, token, NKey) or the client
 *   certificate, within one handshake per server; `CONNECTION` when no server answers, its
 *   certificate is not trusted, or JetStream is off, `TIMEOUT` when the connect deadline passed, `UNSUPPORTED` for nats-server
 *   older than 2.10.
 */
export const createTransport: TransportFactory = (
  url: URL,
  options: TransportFactoryOptions,
): Promise<Transport> => createNatsTransport(parseNatsUrl(url), options);
