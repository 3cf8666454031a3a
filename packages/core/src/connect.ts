import { Carrier } from './carrier.js';
import { CarrierError } from './errors.js';
import { DeadlineError, withDeadline } from './kit/deadline.js';
import { refuseRepeatedOptions } from './kit/url-options.js';
import { createMemoryTransport } from './memory/memory-transport.js';
import { redactUrl, scrub, urlSecrets } from './redact.js';
import { loadTelemetry } from './telemetry/load.js';
import type { TelemetryOptions } from './telemetry/options.js';
import type { Transport, TransportFactory } from './transport.js';

/** The adapter package that serves each URL scheme. */
export const ADAPTER_PACKAGES: Readonly<Record<string, string>> = {
  'kafka:': '@carrier/adapter-kafka',
  'kafkas:': '@carrier/adapter-kafka',
  'amqp:': '@carrier/adapter-rabbitmq',
  'amqps:': '@carrier/adapter-rabbitmq',
  'nats:': '@carrier/adapter-nats',
  'sqs:': '@carrier/adapter-sqs',
};

const AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/)([^@/?#]*@)?([^/?#]*)(.*)$/i;

/**
 * Parse a Carrier URL. Beyond WHATWG URLs it accepts several `host:port` pairs in the authority
 * (`kafka://h1:9092,h2:9093`, `nats://a:4222,b:4223`), which a URL cannot hold: the first pair
 * stays in the authority and the others move to the `hosts` query parameter
 * (`kafka://h1:9092?hosts=h2:9093`), which multi-host adapters read. When the URL has a `hosts`
 * option already, the authority's pairs come first in it: `amqp://a:1,b:2/?hosts=c:3` is
 * `amqp://a:1/?hosts=b:2,c:3`.
 *
 * @throws CarrierError `INVALID_ARGUMENT` when the text is not a URL, when its user info is not
 *   valid percent-encoding, when it has a fragment (`#…`, which no transport reads) or an option
 *   name holding `@` — the last two are what a password with an unencoded `#`, `?` or `/` turns
 *   into (the messages are redacted and say what to percent-encode) —, or when an option is given
 *   more than once (`?client=a&client=b`: no transport reads a repeated option; a list is one
 *   comma-separated value; the message names the option, never the URL).
 */
export function parseCarrierUrl(text: string): URL {
  return checkedUrl(parseUrlText(text));
}

const MISPLACED_SECRET =
  'percent-encode these characters in a user name, password or token: % as %25, @ %40, : %3A, / %2F, ? %3F, # %23';

/**
 * Refuse what a URL parser accepts but that is a password or token gone astray, before anything
 * prints the URL: malformed percent-encoding in the user info (`u:50%@h`), a fragment (`u:12#pw@h`
 * parses as host `u`, port 12 and fragment `pw@h`), an option name holding `@` (`u:12?pw@h`).
 * The messages never quote the URL.
 */
function checkedUrl(url: URL): URL {
  const refuse = (what: string) => new CarrierError('INVALID_ARGUMENT', `${what}: ${MISPLACED_SECRET}`);
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    throw refuse("the URL's user name or password is not valid percent-encoding");
  }
  if (url.hash !== '') throw refuse('the URL has a fragment (#…), which no transport reads');
  for (const name of url.searchParams.keys())
    if (name.includes('@')) throw refuse("an option name in the URL holds '@'");
  refuseRepeatedOptions(url);
  return url;
}

function parseUrlText(text: string): URL {
  try {
    return new URL(text);
  } catch {
    const match = AUTHORITY.exec(text);
    const hosts = match?.[3]?.split(',').filter((h) => h.length > 0) ?? [];
    if (match && hosts.length > 1 && /:\d+$/.test(hosts[0]!)) {
      const [scheme, userinfo = '', , rest = ''] = match.slice(1);
      let url: URL | undefined;
      try {
        // path, query and a fragment (for checkedUrl to refuse: a password's '#' gone astray)
        url = new URL(`${scheme}${userinfo}${hosts[0]}${rest === '' ? '/' : rest}`);
      } catch {
        // fall through to the error below
      }
      if (url) {
        // the authority's pairs first, then those of a `hosts` option the URL has already; more
        // than one `hosts` option is refused as the user wrote it (the count names their options)
        const given = url.searchParams.getAll('hosts');
        const extra = hosts.slice(1).join(',');
        if (given.length > 1) refuseRepeatedOptions(url); // as written: `hosts` given twice
        url.searchParams.set('hosts', [extra, ...given].filter((h) => h !== '').join(','));
        return url;
      }
    }
    // an '@' in text that is not a URL: most likely a password holding '/', '?' or '#' unencoded
    const hint = text.includes('@') ? ` (${MISPLACED_SECRET})` : '';
    throw new CarrierError('INVALID_ARGUMENT', `not a URL: ${redactUrl(text)}${hint}`);
  }
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /**
   * Use this transport factory instead of resolving the URL scheme (third-party transports,
   * tests). The URL is still passed to it.
   */
  transport?: TransportFactory | undefined;
  /**
   * Receives problems that have no caller to reject: a failed settlement, a lost connection.
   * Default: one line on stderr. Messages are scrubbed of the URL's credentials.
   */
  onError?: ((error: Error) => void) | undefined;
  /**
   * Longest `connect` waits for the broker, in milliseconds: an integer from 1 to 2 147 483 647.
   * Past it `connect` rejects with `TIMEOUT` (a transport the adapter still delivers later is
   * aborted at once). Default: the URL's `connectTimeoutMs` query parameter, else
   * {@link DEFAULT_CONNECT_TIMEOUT_MS}. A bad value rejects with `INVALID_ARGUMENT`.
   */
  connectTimeoutMs?: number | undefined;
  /**
   * OpenTelemetry traces and metrics (docs/observability.md): the providers to use, or `false` for
   * none. Default: the global providers of `@opentelemetry/api` registered at `connect` (none
   * registered, or the package absent: telemetry off, at no cost).
   */
  telemetry?: TelemetryOptions | false | undefined;
}

/** Default deadline of `connect`, in milliseconds: 10 000. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Longest timer Node.js can set (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The connect deadline: `options.connectTimeoutMs`, else the URL's `connectTimeoutMs`, else
 * 10 000 ms.
 *
 * @throws CarrierError `INVALID_ARGUMENT` unless it is an integer from 1 to 2^31 - 1.
 */
export function resolveConnectTimeout(url: URL, option: number | undefined): number {
  const fromUrl = url.searchParams.get('connectTimeoutMs');
  const urlValue = fromUrl === null ? undefined : /^\d+$/.test(fromUrl) ? Number(fromUrl) : Number.NaN;
  // both are checked, even when the option wins: a bad URL is refused the same way on every broker
  for (const value of [urlValue, option]) {
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TIMER_MS) {
      throw new CarrierError(
        'INVALID_ARGUMENT',
        `connectTimeoutMs must be an integer number of milliseconds from 1 to ${MAX_TIMER_MS}`,
      );
    }
  }
  return option ?? urlValue ?? DEFAULT_CONNECT_TIMEOUT_MS;
}

interface AdapterModule {
  createTransport?: TransportFactory;
}

/**
 * The transport factory that serves `url`'s scheme: the built-in memory transport, or the
 * `createTransport` of the adapter package, imported on demand.
 *
 * @throws CarrierError `UNSUPPORTED` for an unknown scheme or a missing adapter package.
 */
export async function transportFactoryFor(url: URL): Promise<TransportFactory> {
  if (url.protocol === 'memory:') return createMemoryTransport;
  const pkg = ADAPTER_PACKAGES[url.protocol];
  if (!pkg) {
    const known = ['memory:', ...Object.keys(ADAPTER_PACKAGES)].map((s) => `${s}//`).join(', ');
    throw new CarrierError('UNSUPPORTED', `no transport for scheme ${url.protocol}// (known: ${known})`);
  }
  return loadAdapter(pkg, url.protocol);
}

/**
 * Import an adapter package and return its `createTransport`.
 *
 * @throws CarrierError `UNSUPPORTED` naming the package to install when it is missing.
 */
export async function loadAdapter(pkg: string, scheme: string): Promise<TransportFactory> {
  let mod: AdapterModule;
  try {
    mod = (await import(pkg)) as AdapterModule;
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String(cause).includes(pkg)) {
      throw new CarrierError('UNSUPPORTED', `${scheme}// needs the package ${pkg}: npm install ${pkg}`, {
        cause,
      });
    }
    throw cause;
  }
  if (typeof mod.createTransport !== 'function') {
    throw new CarrierError('UNSUPPORTED', `${pkg} does not export createTransport`);
  }
  return mod.createTransport;
}

function scrubbed(error: unknown, secrets: readonly string[]): Error {
  if (!(error instanceof Error)) return new Error(scrub(String(error), secrets));
  if (secrets.length === 0) return error;
  const message = scrub(error.message, secrets);
  if (error instanceof CarrierError) {
    const cause = error.cause === undefined ? undefined : scrubbed(error.cause, secrets);
    return new CarrierError(error.code, message, {
      transport: error.transport,
      cause,
      failures: error.failures,
    });
  }
  const copy = new Error(message);
  copy.name = error.name;
  return copy;
}

/**
 * Connect to a broker. The URL's scheme picks the transport: `memory://` (built in),
 * `kafka://`/`kafkas://`, `amqp://`/`amqps://`, `nats://`, `sqs://` (each loaded on demand from
 * its `@carrier/adapter-*` package). Resolves once the broker answered.
 *
 * Deadline: `connectTimeoutMs` (option, else URL query parameter, default 10 000 ms). Core races
 * the adapter against it — past it `connect` rejects with `TIMEOUT` and a transport that the
 * adapter still delivers later is aborted — and passes it to the adapter, which should give up by
 * then itself and leave no socket behind.
 *
 * @throws CarrierError `INVALID_ARGUMENT` for a malformed URL or `connectTimeoutMs`, `UNSUPPORTED`
 *   for an unknown scheme or a missing adapter package (the message names the package to install),
 *   `CONNECTION` when the broker cannot be reached, `TIMEOUT` past the deadline. Credentials in
 *   the URL never appear in errors.
 */
export async function connect(url = 'memory://', options: ConnectOptions = {}): Promise<Carrier> {
  const parsed = parseCarrierUrl(url);
  const secrets = urlSecrets(parsed);
  const report = options.onError ?? ((error: Error) => console.error(`[carrier] ${String(error)}`));
  const onError = (error: Error) => report(scrubbed(error, secrets));
  const connectTimeoutMs = resolveConnectTimeout(parsed, options.connectTimeoutMs);
  // the deadline counts from here: loading the adapter package is part of connecting
  const deadline = Date.now() + connectTimeoutMs;
  const factory = options.transport ?? (await transportFactoryFor(parsed));
  // core has validated it: adapters get it as the factory option only, never re-read differently
  parsed.searchParams.delete('connectTimeoutMs');
  const remainingMs = Math.max(1, deadline - Date.now());
  let transport: Transport;
  try {
    transport = await withDeadline(
      // a transport the adapter still delivers after the deadline is aborted: nobody holds it
      { what: 'connecting', ms: remainingMs, onLate: (late: Transport) => late.abort() },
      () => factory(parsed, { onError, connectTimeoutMs: remainingMs }),
    );
  } catch (error) {
    if (error instanceof DeadlineError) {
      throw new CarrierError(
        'TIMEOUT',
        `connecting to ${redactUrl(parsed)} took longer than connectTimeoutMs (${connectTimeoutMs} ms)`,
      );
    }
    const clean = scrubbed(error, secrets);
    if (clean instanceof CarrierError) throw clean;
    throw new CarrierError('CONNECTION', `cannot connect to ${redactUrl(parsed)}: ${clean.message}`, {
      cause: clean,
    });
  }
  return new Carrier(transport, onError, await loadTelemetry(options.telemetry, transport));
}
