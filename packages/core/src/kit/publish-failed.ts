import { CarrierError, type PublishFailure } from '../errors.js';
import { asError, describeError } from './describe-error.js';

/** What {@link publishFailed} needs to know of a message: its id. */
export interface Identified {
  readonly id: string;
}

/**
 * The `PUBLISH_FAILED` error of a publish call in which some messages were not confirmed.
 * `failures` lists exactly those (by position in `messages`, in ascending order, with their id),
 * so the caller knows the others were; its `cause` is the first failure's error.
 *
 * @param transport the transport's name (`kafka`, `rabbitmq`, …), put in the error.
 * @param topic the topic published to, named in the message.
 * @param messages the messages of the call, in order.
 * @param failed `[index, error]` of each message that was not confirmed (a `Map` works); an index
 *   given twice keeps its last error; a non-`Error` is wrapped in one.
 */
export function publishFailed(
  transport: string,
  topic: string,
  messages: readonly Identified[],
  failed: Iterable<readonly [index: number, error: unknown]>,
): CarrierError {
  const byIndex = new Map<number, Error>();
  for (const [index, error] of failed) {
    if (!Number.isInteger(index) || index < 0 || index >= messages.length)
      throw new RangeError(`publishFailed: no message at index ${index} of ${messages.length}`);
    byIndex.set(index, asError(error));
  }
  const failures: PublishFailure[] = [...byIndex]
    .sort(([a], [b]) => a - b)
    .map(([index, error]) => ({ index, id: messages[index]!.id, error }));
  const first = failures[0]?.error;
  const reason = first ? `: ${first.message}` : '';
  return new CarrierError(
    'PUBLISH_FAILED',
    `${failures.length} of ${messages.length} message(s) to ${topic} not confirmed${reason}`,
    { transport, cause: first, failures },
  );
}

/**
 * The `PUBLISH_FAILED` error of a publish call that sent nothing (the topic could not be declared,
 * no channel could be opened): every message is a failure, with `cause` as its error.
 */
export function nothingPublished(
  transport: string,
  topic: string,
  messages: readonly Identified[],
  cause: unknown,
): CarrierError {
  const error = asError(cause);
  return new CarrierError(
    'PUBLISH_FAILED',
    `none of ${messages.length} message(s) to ${topic} was published: ${describeError(error)}`,
    { transport, cause: error, failures: messages.map((m, index) => ({ index, id: m.id, error })) },
  );
}
