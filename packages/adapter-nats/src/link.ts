import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Wrap } from './errors.js';
import type { NatsSettings } from './url.js';

/** What the parts of one transport share: its connection and JetStream clients, settings, error paths. */
export interface Link {
  readonly nc: NatsConnection;
  /** JetStream publishes (its requests time out after `settings.requestTimeoutMs`). */
  readonly js: JetStreamClient;
  /** JetStream API: streams, consumers, stored messages. */
  readonly jsm: JetStreamManager;
  readonly settings: NatsSettings;
  /** The server's `max_payload` in bytes (headers and body together). */
  readonly maxPayload: number;
  /** Maps a failed broker call to a `CarrierError` (`CLOSED` once the transport was closed). */
  readonly wrap: Wrap;
  /** The transport's `onError`: failures no caller waits for. */
  readonly onError: (error: Error) => void;
  /** Whether `close()` or `abort()` was called. */
  readonly closed: () => boolean;
}
