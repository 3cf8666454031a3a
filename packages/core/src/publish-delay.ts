import { CarrierError } from './errors.js';
import type { MessageOptions } from './message.js';
import type { Capabilities } from './transport.js';

/**
 * Generic header form of `WireMessage.deliverAt` (ISO 8601 UTC with milliseconds), for a transport
 * that carries the due time inside the message (Carrier's own delay path). Reserved: user headers
 * may not start with `carrier-`.
 */
export const DELIVER_AT_HEADER = 'carrier-deliver-at';

/** `deliverAt` in its header form (ISO 8601 UTC with milliseconds). */
export function formatDeliverAt(deliverAt: Date): string {
  return deliverAt.toISOString();
}

/** A `DELIVER_AT_HEADER` value back as a `Date`; `undefined` when absent or unreadable (deliver at once). */
export function parseDeliverAt(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/**
 * The due time of a message from its `delayMs` / `deliverAt` options, checked against the
 * transport's `maxPublishDelayMs`: `undefined` when it is due at once (no option, 0, or a time
 * already past).
 *
 * @throws CarrierError `INVALID_ARGUMENT`, `UNSUPPORTED` (see `MessageOptions.delayMs`).
 */
export function dueTime(
  entry: Pick<MessageOptions, 'delayMs' | 'deliverAt'>,
  capabilities: Pick<Capabilities, 'maxPublishDelayMs'>,
  transport: string,
  now: number,
): Date | undefined {
  const { delayMs, deliverAt } = entry;
  if (delayMs !== undefined && deliverAt !== undefined) {
    throw new CarrierError('INVALID_ARGUMENT', 'give delayMs or deliverAt, not both');
  }
  let delay: number;
  if (delayMs !== undefined) {
    if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0) {
      throw new CarrierError(
        'INVALID_ARGUMENT',
        `delayMs must be a finite number ≥ 0, not ${String(delayMs)}`,
      );
    }
    delay = Math.ceil(delayMs);
  } else if (deliverAt !== undefined) {
    if (!(deliverAt instanceof Date) || Number.isNaN(deliverAt.getTime())) {
      throw new CarrierError('INVALID_ARGUMENT', 'deliverAt must be a valid Date');
    }
    delay = deliverAt.getTime() - now;
  } else {
    return undefined;
  }
  if (delay <= 0) return undefined;
  const max = capabilities.maxPublishDelayMs ?? 0;
  if (delay > max) {
    throw new CarrierError(
      'UNSUPPORTED',
      max > 0
        ? `a publish delay of ${delay} ms exceeds the ${transport} limit of ${max} ms (capabilities.maxPublishDelayMs)`
        : `${transport} has no delayed publish (capabilities.maxPublishDelayMs is 0)`,
      { transport },
    );
  }
  return new Date(now + delay);
}
