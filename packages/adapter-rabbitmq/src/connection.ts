import { readFile } from 'node:fs/promises';
import { createSecureContext, rootCertificates } from 'node:tls';
import type { CarrierError } from '@carrier/core';
import { redactUrl } from '@carrier/core';
import { Backoff, describeError, withDeadline } from '@carrier/core/kit';
import type { Channel, ChannelModel } from 'amqplib';
import amqp from 'amqplib';
import { connectFailure, noHostFailure, rabbitError } from './errors.js';
import type { RabbitSettings } from './url.js';

/** Ceiling of the first pause before reconnecting, in ms; doubles on each failed attempt up to the maximum. */
const RECONNECT_INITIAL_DELAY_MS = 100;
/** Deadline of a connect (TCP and AMQP handshake) when neither the URL nor the factory gives one, in ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

interface Waiter {
  resolve: (model: ChannelModel) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

interface Socketed {
  connection: { stream?: { destroy?: (error?: Error) => void } };
}

/** A TLS file's text. @throws CarrierError `INVALID_ARGUMENT` naming the option and path (never the content). */
async function readTlsFile(option: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    throw rabbitError('INVALID_ARGUMENT', `cannot read ${option} ${file}: ${describeError(cause)}`, cause);
  }
}

/**
 * Build the TLS context once before dialling: a key that is not the certificate's, or a file
 * holding no certificate, is `INVALID_ARGUMENT` naming the files (not `CONNECTION` with OpenSSL's
 * text alone). OpenSSL's reason (`key values mismatch`, `no start line`) quotes no file content.
 */
function checkTlsFiles(
  tls: { ca?: string[]; cert?: string; key?: string },
  files: RabbitSettings['tls'],
): void {
  try {
    createSecureContext({ ca: tls.ca, cert: tls.cert, key: tls.key });
  } catch (cause) {
    const named = (['caFile', 'certFile', 'keyFile'] as const)
      .filter((n) => files[n] !== undefined)
      .map((n) => `${n} ${files[n]}`)
      .join(', ');
    const reason = (cause as Error).message.replace(/^error:[0-9A-F]+:/, '');
    throw rabbitError('INVALID_ARGUMENT', `unusable TLS files (${named}): ${reason}`);
  }
}

/**
 * One AMQP connection that comes back by itself. When the broker drops it, every listener hears
 * `onLost` at once (so in-flight work can fail with a coded error), then the manager reconnects with
 * exponential backoff and jitter (100 ms doubling up to `reconnectMaxDelayMs`), for as long as it is
 * not closed, and calls `onRecovered` with the new connection, whose channels, topology and consumers
 * the listeners re-create.
 *
 * With several hosts (`RabbitSettings.amqpUrls`, the nodes of one cluster) the first connection goes
 * to the first host that accepts, in the URL's order; after a loss each reconnection attempt dials
 * one host, round-robin from the one after the lost host, so a surviving node is reached on the
 * first attempt when the lost one is down.
 */
export class ConnectionManager {
  #model: ChannelModel | undefined;
  #closed = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  /** Whether the current outage's refused reconnection was reported (once per outage). */
  #refusalReported = false;
  /** Pauses between reconnection attempts: equal jitter, 100 ms doubling up to `reconnectMaxDelayMs`. */
  readonly #backoff: Backoff;
  readonly #waiters = new Set<Waiter>();
  /** Index in `settings.amqpUrls` of the host connected to, or to dial on the next reconnection attempt. */
  #host = 0;

  constructor(
    private readonly settings: RabbitSettings,
    /** Deadline of each connect in ms: the factory option `connectTimeoutMs`, else the URL's, else 10 000. */
    private readonly connectTimeoutMs: number,
    private readonly hooks: {
      /**
       * The connection was lost (reconnecting now), the broker blocked publishing, or it refused a
       * reconnection (`AUTH_FAILED`, once per outage).
       */
      readonly onLost: (error: Error) => void;
      readonly onRecovered: (model: ChannelModel) => void;
    },
  ) {
    this.#backoff = new Backoff({
      initialMs: Math.min(RECONNECT_INITIAL_DELAY_MS, settings.reconnectMaxDelayMs),
      maxMs: settings.reconnectMaxDelayMs,
    });
  }

  /** The open connection, if there is one right now. */
  get current(): ChannelModel | undefined {
    return this.#model;
  }

  /**
   * Open the first connection.
   * @throws CarrierError `AUTH_FAILED` when the broker refuses the login, the vhost or the client
   *   certificate; `INVALID_ARGUMENT` when a TLS file cannot be read; `CONNECTION` otherwise
   *   (unreachable, deadline passed, server certificate not trusted).
   */
  async start(): Promise<ChannelModel> {
    const failures: CarrierError[] = [];
    for (const [index, url] of this.settings.amqpUrls.entries()) {
      try {
        const model = await this.#open(url);
        this.#host = index;
        this.#adopt(model);
        return model;
      } catch (cause) {
        const failure = connectFailure(cause, redactUrl(url), this.#vhost());
        // an unreadable TLS file fails every host alike
        if (failure.code === 'INVALID_ARGUMENT') throw failure;
        failures.push(failure);
      }
    }
    throw noHostFailure(failures);
  }

  /**
   * Open a connection within {@link connectTimeoutMs}. amqplib's socket `timeout` covers a silent
   * socket (it resets on every byte); the deadline below also covers a broker that answers too slowly
   * and closes a connection that opens after it.
   */
  #open(url: string): Promise<ChannelModel> {
    return withDeadline(
      { what: 'AMQP connection', ms: this.connectTimeoutMs, onLate: (late) => late.close() },
      async () => {
        const model = await this.#connect(url);
        // from now on: a connection closed before it is adopted (too late, or the manager closed
        // while it opened) can still see a reset, and an 'error' nobody listens to is thrown;
        // for an adopted one the loss is reported through 'close', which always follows
        model.on('error', () => {});
        return model;
      },
    );
  }

  async #connect(url: string): Promise<ChannelModel> {
    const { caFile, certFile, keyFile, servername } = this.settings.tls;
    const tls: { ca?: string[]; cert?: string; key?: string; servername?: string } = {};
    // extra CAs are added to Node's default ones, not put in their place
    if (caFile !== undefined) tls.ca = [...rootCertificates, await readTlsFile('caFile', caFile)];
    if (certFile !== undefined) tls.cert = await readTlsFile('certFile', certFile);
    if (keyFile !== undefined) tls.key = await readTlsFile('keyFile', keyFile);
    if (servername !== undefined) tls.servername = servername;
    checkTlsFiles(tls, this.settings.tls);
    // servername unset: amqplib sends each host's own name (not an IP address) as SNI
    return amqp.connect(url, {
      ...tls,
      ...(this.settings.mechanism === 'EXTERNAL'
        ? { credentials: amqp.credentials.external() }
        : plainCredentials(url)),
      timeout: this.connectTimeoutMs,
      noDelay: true,
      clientProperties: { connection_name: 'carrier' },
    });
  }

  /** The hosts, for messages: the redacted URL of the only host, or of the first and how many more. */
  #where(): string {
    const [first, ...others] = this.settings.amqpUrls;
    const more = others.length === 0 ? '' : ` (or any of ${others.length} other hosts)`;
    return `${redactUrl(first!)}${more}`;
  }

  /** The vhost of the URL, decoded (`/` when the URL has none). */
  #vhost(): string {
    return decodeURIComponent(new URL(this.settings.amqpUrl).pathname.slice(1)) || '/';
  }

  /**
   * A reconnection the broker refused (login, vhost or client certificate: a password changed or a
   * permission removed meanwhile) goes to `onLost` as `AUTH_FAILED`, once per outage; the manager
   * keeps trying, as the credentials may be made valid again on the broker.
   */
  #reportRefusal(cause: unknown, url: string): void {
    if (this.#refusalReported || this.#closed) return;
    const failure = connectFailure(cause, redactUrl(url), this.#vhost());
    if (failure.code !== 'AUTH_FAILED') return;
    this.#refusalReported = true;
    this.hooks.onLost(
      rabbitError(
        'AUTH_FAILED',
        `${failure.message}; still reconnecting every ${this.settings.reconnectMaxDelayMs} ms at most`,
        cause,
      ),
    );
  }

  #adopt(model: ChannelModel): void {
    const url = this.settings.amqpUrls[this.#host]!;
    this.#model = model;
    this.#refusalReported = false;
    this.#backoff.reset();
    model.on('blocked', (reason: string) => {
      // a memory or disk alarm: publishes wait for their confirms until the broker unblocks
      this.hooks.onLost(
        rabbitError(
          'CONNECTION',
          `the broker blocks publishing (${reason}); publishes wait until it unblocks`,
        ),
      );
    });
    model.on('close', (error?: Error) => {
      if (this.#model !== model) return;
      this.#model = undefined;
      if (this.#closed) return;
      // the next attempt dials the next host: with a node down, a surviving one answers at once
      this.#advanceHost();
      const lost = rabbitError(
        'CONNECTION',
        `connection to ${redactUrl(url)} lost (${error ? describeError(error) : 'closed by the broker'}); reconnecting`,
        error,
      );
      this.hooks.onLost(lost);
      this.#scheduleReconnect();
    });
    for (const waiter of [...this.#waiters]) {
      clearTimeout(waiter.timer);
      this.#waiters.delete(waiter);
      waiter.resolve(model);
    }
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer) return;
    const delay = this.#backoff.next();
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      void this.#reconnect();
    }, delay);
  }

  /** Make the next host in `settings.amqpUrls` (round-robin) the one to dial. */
  #advanceHost(): void {
    this.#host = (this.#host + 1) % this.settings.amqpUrls.length;
  }

  async #reconnect(): Promise<void> {
    if (this.#closed) return;
    const url = this.settings.amqpUrls[this.#host]!;
    let model: ChannelModel;
    try {
      model = await this.#open(url);
    } catch (cause) {
      this.#reportRefusal(cause, url);
      this.#advanceHost();
      this.#scheduleReconnect();
      return;
    }
    if (this.#closed) {
      await model.close().catch(() => {});
      return;
    }
    this.#adopt(model);
    this.hooks.onRecovered(model);
  }

  /**
   * The open connection; during an outage, waits for the reconnection up to `recoveryTimeoutMs`.
   * @throws CarrierError `CLOSED` once closed, `CONNECTION` when the connection does not come back in time.
   */
  ready(): Promise<ChannelModel> {
    if (this.#closed) return Promise.reject(rabbitError('CLOSED', 'rabbitmq connection is closed'));
    if (this.#model) return Promise.resolve(this.#model);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(
            rabbitError(
              'CONNECTION',
              `connection to ${this.#where()} did not come back within ${this.settings.recoveryTimeoutMs} ms`,
            ),
          );
        }, this.settings.recoveryTimeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  #stop(): ChannelModel | undefined {
    this.#closed = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    for (const waiter of [...this.#waiters]) {
      clearTimeout(waiter.timer);
      waiter.reject(rabbitError('CLOSED', 'rabbitmq connection is closed'));
    }
    this.#waiters.clear();
    const model = this.#model;
    this.#model = undefined;
    return model;
  }

  /** Close the connection gracefully and stop reconnecting. */
  async close(): Promise<void> {
    const model = this.#stop();
    if (model) await model.close().catch(() => {});
  }

  /** Drop the TCP connection at once, without closing channels: the broker requeues every unacked delivery. */
  abort(): void {
    const model = this.#stop();
    if (!model) return;
    const stream = (model as unknown as Socketed).connection.stream;
    // with an error: amqplib listens for the socket's 'error' and 'end' only, so a plain destroy()
    // would leave its channels and pending calls (a consume waiting for consume-ok) hanging until
    // the heartbeat gives up
    stream?.destroy?.(new Error('connection aborted'));
  }
}

/**
 * A new channel on `model`. Its `error` events are swallowed: a channel error is always followed by
 * `close`, and by the failure of the call that caused it, which is where callers handle it.
 *
 * @param purpose what the channel is for, in the error message (`consume <queue>`, …).
 * @throws CarrierError `CONNECTION` when the channel cannot be opened.
 */
export async function openChannel(model: ChannelModel, purpose: string): Promise<Channel> {
  let channel: Channel;
  try {
    channel = await model.createChannel();
  } catch (cause) {
    throw rabbitError('CONNECTION', `cannot open a channel to ${purpose}: ${describeError(cause)}`, cause);
  }
  channel.on('error', () => {
    // handled through 'close' and the failed call
  });
  return channel;
}

/**
 * The PLAIN login of the URL's user info, percent-decoded as UTF-8. amqplib decodes it with the
 * legacy `unescape()`, which reads `%C3%BC` as two Latin-1 characters: a password with any
 * non-ASCII character was refused. Without user info amqplib's `guest`/`guest` stays.
 */
function plainCredentials(amqpUrl: string): { credentials?: ReturnType<typeof amqp.credentials.plain> } {
  const url = new URL(amqpUrl);
  if (url.username === '' && url.password === '') return {};
  return { credentials: amqp.credentials.plain(decoded(url.username), decoded(url.password)) };
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
