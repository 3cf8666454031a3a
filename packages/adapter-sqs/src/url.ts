import { CarrierError } from '@carrier/core';
import { refuseRepeatedOptions, urlFlag } from '@carrier/core/kit';

/** Settings read from an `sqs://` URL. */
export interface SqsSettings {
  /** AWS region; undefined: the SDK's default chain (AWS_REGION, shared config). */
  readonly region: string | undefined;
  /** Endpoint for emulators (`http://host:port`); undefined for AWS itself. */
  readonly endpoint: string | undefined;
  /** SNS fan-out (default); false: queue-only mode, one queue per topic, one group per topic. */
  readonly sns: boolean;
  /** FIFO topics and queues for every topic (per-key order); default false. */
  readonly fifo: boolean;
  /** Create topics, queues, subscriptions and policies on first use (default true). */
  readonly provision: boolean;
  /** Visibility timeout of each receive, in seconds (default 15); heartbeats extend it while a handler runs. */
  readonly visibilityTimeoutSeconds: number;
  /**
   * Long-poll wait of each ReceiveMessage, 0 to 20 seconds (default 5). Closing a consumer waits for its long
   * polls to end (a poll cancelled by the client goes on at the server and would hide what it takes),
   * so this also bounds how long `close()` takes.
   */
  readonly waitTimeSeconds: number;
  /**
   * Deadline of every SQS/SNS call, in milliseconds (default 10 000), SDK retries included; a ReceiveMessage gets its
   * long-poll wait on top. A silent connection is therefore noticed within
   * `waitTimeSeconds * 1000 + requestTimeoutMs`.
   */
  readonly requestTimeoutMs: number;
  /**
   * `caFile` (PEM path, read when connecting; `tls=true` with an emulator endpoint only): CAs
   * trusted for the endpoint's certificate, in addition to Node's.
   */
  readonly caFile: string | undefined;
  /** The URL's `connectTimeoutMs`, if any (the factory's option wins; core passes the URL's). */
  readonly connectTimeoutMs: number | undefined;
}

/** Default visibility timeout: short, so crashed members' messages come back soon; heartbeats extend it. */
const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 15;
/**
 * Default long-poll wait: 5 s, short enough for a quick close (a close waits for the polls in flight),
 * long enough that an idle poller makes 12 calls a minute.
 */
const DEFAULT_WAIT_TIME_SECONDS = 5;
/** Default deadline of one SQS/SNS call (SDK retries included), on top of a receive's long-poll wait. */
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

const KNOWN = new Set([
  'region',
  'sns',
  'fifo',
  'provision',
  'visibilityTimeout',
  'waitTimeSeconds',
  'requestTimeoutMs',
  'connectTimeoutMs',
  'tls',
  'caFile',
]);

function flag(params: URLSearchParams, name: string, fallback: boolean): boolean {
  return urlFlag(params, name, fallback, 'sqs');
}

function integer(params: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const v = params.get(name);
  if (v === null) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `sqs:// option ${name} must be an integer from ${min} to ${max}`,
      {
        transport: 'sqs',
      },
    );
  }
  return n;
}

/**
 * Parse `sqs://[host:port][?region=…&sns=false&fifo=true&provision=false&visibilityTimeout=15&waitTimeSeconds=5&requestTimeoutMs=10000&connectTimeoutMs=10000&tls=true]`.
 * A host other than `aws` (or none) is an emulator endpoint, `http://host:port` (`https` with `tls=true`).
 * Options, all optional:
 * - `region` (default: the SDK's chain); `sns` (default true), `fifo` (default false), `provision`
 *   (default true), `tls` (default false): `true`/`false`, `on`/`off`, `yes`/`no` or `1`/`0`, in any
 *   case (core's `urlFlag`);
 * - `caFile` (with `tls=true` and an emulator endpoint): a PEM file of CAs to trust for its certificate;
 * - `visibilityTimeout` (s, 3–43 200, default 15); `waitTimeSeconds` (s, 0–20, default 5);
 * - `requestTimeoutMs` (ms, 100–600 000, default 10 000); `connectTimeoutMs` (ms; default: the
 *   factory's `connectTimeoutMs`, else 10 000).
 *
 * Credentials never come from the URL: a URL with a user or password is refused (use the AWS
 * default provider chain: environment, shared files, SSO, instance or container roles).
 *
 * Every option is given at most once (core's `refuseRepeatedOptions`).
 *
 * @throws CarrierError `INVALID_ARGUMENT` for unknown or repeated options, bad values or credentials
 *   in the URL.
 */
export function parseSqsUrl(url: URL): SqsSettings {
  if (url.username || url.password) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      'sqs:// URLs take no credentials; use the AWS default credential provider chain (environment, profile, role)',
      { transport: 'sqs' },
    );
  }
  const params = url.searchParams;
  for (const name of params.keys()) {
    if (!KNOWN.has(name)) {
      throw new CarrierError('INVALID_ARGUMENT', `unknown sqs:// option ${JSON.stringify(name)}`, {
        transport: 'sqs',
      });
    }
  }
  refuseRepeatedOptions(url, 'sqs');
  const host = url.hostname;
  const tls = flag(params, 'tls', false);
  const endpoint =
    host === '' || host === 'aws'
      ? undefined
      : `${tls ? 'https' : 'http'}://${url.host}${url.pathname === '/' ? '' : url.pathname}`;
  const caFile = params.get('caFile') ?? undefined;
  if (caFile !== undefined && (!endpoint?.startsWith('https:') || caFile === '')) {
    throw new CarrierError('INVALID_ARGUMENT', 'caFile needs tls=true, an emulator endpoint and a path', {
      transport: 'sqs',
    });
  }
  const visibilityTimeoutSeconds = integer(
    params,
    'visibilityTimeout',
    DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
    3,
    43_200,
  );
  return {
    region: params.get('region') ?? undefined,
    endpoint,
    sns: flag(params, 'sns', true),
    fifo: flag(params, 'fifo', false),
    provision: flag(params, 'provision', true),
    visibilityTimeoutSeconds,
    waitTimeSeconds: integer(params, 'waitTimeSeconds', DEFAULT_WAIT_TIME_SECONDS, 0, 20),
    requestTimeoutMs: integer(params, 'requestTimeoutMs', DEFAULT_REQUEST_TIMEOUT_MS, 100, 600_000),
    caFile,
    connectTimeoutMs:
      params.get('connectTimeoutMs') === null
        ? undefined
        : integer(params, 'connectTimeoutMs', 10_000, 1, 2_147_483_647),
  };
}
