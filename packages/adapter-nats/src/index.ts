import type { Transport, TransportFactory, TransportFactoryOptions } from '@carrier/core';
import { createNatsTransport } from './nats-transport.js';
import { parseNatsUrl } from './url.js';

export {
  consumerName,
  deadLetterStream,
  deadLetterSubject,
  escapeName,
  redriveSubject,
  topicStream,
  topicSubject,
  unescapeName,
} from './names.js';
export { createNatsTransport, HEADER_RESERVE_BYTES, MAX_DELAY_MS, NatsTransport } from './nats-transport.js';
export { type NatsSettings, parseNatsUrl, type Retention } from './url.js';
export { HEADERS, NATS_MSG_ID } from './wire.js';

/**
 * The `nats://` transport factory that `connect()` of `@carrier/core` loads. Resolves once the
 * server answered and JetStream is available; see {@link parseNatsUrl} for the URL's options.
 *
 * @throws CarrierError `INVALID_ARGUMENT` for a malformed URL, `CONNECTION` when no server answers
 *   or JetStream is off, `UNSUPPORTED` for nats-server older than 2.10.
 */
export const createTransport: TransportFactory = (
  url: URL,
  options: TransportFactoryOptions,
): Promise<Transport> => createNatsTransport(parseNatsUrl(url), options);
