import { CarrierError, type Message, messageSize, validateHeaders, validateMetadata } from '@carrier/core';

/** Longest message id core accepts on publish. */
const MAX_ID_LENGTH = 128;

/**
 * Why `message` cannot be republished byte for byte through Carrier's publish API on a target
 * whose largest message is `maxMessageBytes`, or `undefined` when it can. The checks are the
 * ones core's `publishBatch` applies (portable header keys, no reserved `carrier-` prefix, no
 * CR/LF/NUL in values, valid metadata, id of 1 to 128 characters, size limit), run per message so that one bad
 * message never fails a whole batch. A message a native producer wrote with non-portable
 * headers is therefore reported here, and the bridge dead-letters it with this reason instead
 * of dropping it or altering its headers.
 */
export function republishProblem(message: Message, maxMessageBytes: number): string | undefined {
  try {
    validateHeaders(message.headers);
    validateMetadata(message.metadata);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  if (typeof message.id !== 'string' || message.id.length === 0 || message.id.length > MAX_ID_LENGTH) {
    return `message id of ${String(message.id?.length ?? 0)} characters (Carrier ids have 1 to ${MAX_ID_LENGTH})`;
  }
  const size = messageSize(message.raw, message.key, message.headers, message.metadata);
  if (size > maxMessageBytes) {
    return `message of ${size} bytes exceeds the target's limit of ${maxMessageBytes} bytes`;
  }
  return undefined;
}

/**
 * True when a failed publish can never succeed by trying again (the target rejected the message
 * itself, not the moment): such messages are dead-lettered on the source with the reason.
 */
export function isPermanentPublishError(error: unknown): boolean {
  return (
    error instanceof CarrierError &&
    (error.code === 'INVALID_ARGUMENT' || error.code === 'INVALID_NAME' || error.code === 'MESSAGE_TOO_LARGE')
  );
}
