import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type Capabilities, CarrierError, type WireMessage } from '@carrier/core';
import { TRANSPORT } from './errors.js';
import type { Lease, Receiver } from './receiver.js';
import type { GroupQueues } from './topology.js';
import type { SqsSettings } from './url.js';
import { decodeMessage, encodeMessage } from './wire.js';

/**
 * Delayed publish on SQS (docs/brokers/sqs.md, "Delayed publish"). Native only where SQS has it:
 * `DelaySeconds` of a message sent to a standard queue, at most 900 s. Everything else takes
 * Carrier's own path: the message carries its due time (`deliverAt` in `carrier-meta`) and the
 * group's receiver holds it until then instead of handing it to the handler:
 * - standard queues (SNS fan-out, and delays beyond 900 s): a copy goes back to the group's queue
 *   with `DelaySeconds` = the time left (at most 900 s, so one hop per 15 minutes), keeping its
 *   attempt count, and the received one is deleted;
 * - FIFO queues (no per-message `DelaySeconds`): the message is made invisible until it is due
 *   (one visibility change, within SQS's 12-hour limit); that receive is not counted as an
 *   attempt (see `decodeMessage`). Its message group (its key) waits behind it, as FIFO order says.
 */

/** SQS's longest `DelaySeconds` (standard queues only), in seconds. */
export const SQS_MAX_DELAY_SECONDS = 900;
/**
 * Longest delayed publish on standard queues: 7 days, so that a delayed message that no consumer
 * takes in time still has 7 of the queue's 14 days of retention after its due time.
 */
export const STANDARD_MAX_PUBLISH_DELAY_MS = 7 * 24 * 3_600_000;
/** Longest delayed publish on FIFO queues: one visibility hold (12 hours from the receive), less a minute. */
export const FIFO_MAX_PUBLISH_DELAY_MS = (43_200 - 60) * 1_000;

/** Which delay path a topic's messages take: see the module's description. */
export type DelayPath = 'queue' | 'sns' | 'fifo';

/** The delay path of a topic: FIFO topics hold on the receiver, SNS standard re-sends there, queue-only standard is native. */
export function delayPath(sns: boolean, fifo: boolean): DelayPath {
  return fifo ? 'fifo' : sns ? 'sns' : 'queue';
}

/** What `capabilities` says of delayed publish in a connection's mode. */
export function publishDelayCapabilities(
  settings: Pick<SqsSettings, 'sns' | 'fifo'>,
): Pick<Capabilities, 'maxPublishDelayMs' | 'maxNativePublishDelayMs' | 'publishDelayPrecisionMs'> {
  switch (delayPath(settings.sns, settings.fifo)) {
    case 'fifo':
      // whole seconds of visibility, and a FIFO receiver polls at most once a second when idle
      return {
        maxPublishDelayMs: FIFO_MAX_PUBLISH_DELAY_MS,
        maxNativePublishDelayMs: 0,
        publishDelayPrecisionMs: 2_000,
      };
    case 'sns':
      return {
        maxPublishDelayMs: STANDARD_MAX_PUBLISH_DELAY_MS,
        maxNativePublishDelayMs: 0,
        publishDelayPrecisionMs: 1_000,
      };
    default:
      return {
        maxPublishDelayMs: STANDARD_MAX_PUBLISH_DELAY_MS,
        maxNativePublishDelayMs: SQS_MAX_DELAY_SECONDS * 1_000,
        publishDelayPrecisionMs: 1_000,
      };
  }
}

/** How one message is sent: its `DelaySeconds` (standard queue-only) and the due time it carries (Carrier's path). */
export interface SendDelay {
  readonly delaySeconds?: number | undefined;
  readonly deliverAt?: Date | undefined;
}

/**
 * The send of `message` on `path` at `now`: nothing when it is not delayed (or already due);
 * `DelaySeconds` rounded up (never early) when a standard queue keeps it all; else its due time,
 * with the first 900 s as `DelaySeconds` on a standard queue.
 *
 * @throws CarrierError `UNSUPPORTED` for a FIFO topic (a `.fifo` name on a standard connection)
 *   and a delay beyond {@link FIFO_MAX_PUBLISH_DELAY_MS}.
 */
export function sendDelay(message: WireMessage, path: DelayPath, now: number): SendDelay {
  const { deliverAt } = message;
  const remaining = deliverAt ? deliverAt.getTime() - now : 0;
  if (!deliverAt || remaining <= 0) return {};
  if (path === 'fifo') {
    if (remaining > FIFO_MAX_PUBLISH_DELAY_MS) {
      throw new CarrierError(
        'UNSUPPORTED',
        `a publish delay of ${remaining} ms exceeds the limit of FIFO topics, ${FIFO_MAX_PUBLISH_DELAY_MS} ms (one 12-hour visibility hold)`,
        { transport: TRANSPORT },
      );
    }
    return { deliverAt };
  }
  if (path === 'sns') return { deliverAt };
  const seconds = Math.ceil(remaining / 1_000);
  return seconds <= SQS_MAX_DELAY_SECONDS
    ? { delaySeconds: seconds }
    : { delaySeconds: SQS_MAX_DELAY_SECONDS, deliverAt };
}

/**
 * Hold a received message that is not due yet (see the module's description); settles `lease`
 * through the receiver, so its prefetch slot is free again once the hold is in place. A standard
 * queue whose copy cannot be sent falls back to a visibility hold (its receive then counts).
 */
export function hold(
  sqs: SQSClient,
  receiver: Receiver,
  queues: GroupQueues,
  lease: Lease,
  deliverAt: Date,
): Promise<void> {
  return receiver.settle(lease, async () => {
    const seconds = Math.max(1, Math.ceil((deliverAt.getTime() - Date.now()) / 1_000));
    if (queues.fifo) return receiver.changeVisibility(lease, seconds);
    const { message, attempt } = decodeMessage(lease.message);
    const encoded = encodeMessage(message, { attemptOffset: attempt - 1, deliverAt });
    try {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queues.queueUrl,
          MessageBody: encoded.body,
          MessageAttributes: encoded.attributes,
          DelaySeconds: Math.min(SQS_MAX_DELAY_SECONDS, seconds),
        }),
      );
    } catch {
      return receiver.changeVisibility(lease, seconds);
    }
    await receiver.delete(lease);
  });
}
