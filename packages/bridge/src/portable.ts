import { type Message, messageSize, validateHeaders, validateMetadata } from '@carrier/core';

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

/** The rule lives in core (`@carrier/core` `isPermanentPublishError`); re-exported for the bridge's modules. */
export { isPermanentPublishError } from '@carrier/core';
