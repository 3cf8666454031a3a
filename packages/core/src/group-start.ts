import { CarrierError } from './errors.js';
import type { StartFrom, Transport } from './transport.js';

const START_FROM: readonly StartFrom[] = ['now', 'earliest'];

/**
 * `startFrom` checked against the transport: absent stays absent (the transport creates a group at
 * `'now'` and accepts an existing one whatever its start); anything else than `'now'` or
 * `'earliest'` is `INVALID_ARGUMENT`; `'earliest'` without `capabilities.replay` is `UNSUPPORTED`
 * (never a silent start at `'now'`). Runs before the broker is touched.
 */
export function checkStartFrom(transport: Transport, startFrom: unknown): StartFrom | undefined {
  const value = startFrom;
  if (value === undefined) return undefined;
  if (!START_FROM.includes(value as StartFrom)) {
    throw new CarrierError('INVALID_ARGUMENT', "startFrom must be 'now' or 'earliest'");
  }
  if (value === 'earliest' && !transport.capabilities.replay) {
    throw new CarrierError(
      'UNSUPPORTED',
      `${transport.name} keeps no history for a new group: startFrom 'earliest' needs capabilities.replay`,
      { transport: transport.name },
    );
  }
  return value as StartFrom;
}

/**
 * `ordered` checked against the transport: a non-boolean is `INVALID_ARGUMENT`; true without
 * `capabilities.perKeyOrder` is `UNSUPPORTED`. Absent stays absent.
 */
export function checkOrdered(transport: Transport, ordered: unknown): boolean | undefined {
  if (ordered !== undefined && typeof ordered !== 'boolean') {
    throw new CarrierError('INVALID_ARGUMENT', 'ordered must be a boolean');
  }
  if (ordered === true && !transport.capabilities.perKeyOrder) {
    throw new CarrierError('UNSUPPORTED', `${transport.name} cannot keep per-key order across a group`, {
      transport: transport.name,
    });
  }
  return ordered;
}
