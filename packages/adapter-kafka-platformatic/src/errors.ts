import {
  type BrokerError,
  brokerRefusal,
  type KafkaUrlOptions,
  type Refused,
} from '@carrier/adapter-kafka/driver-kit';
import type { CarrierError } from '@carrier/core';

/**
 * @platformatic/kafka 1.35 answers a Metadata request for a missing topic not with the Kafka error
 * but with a `UserError` of its own ("Unknown topic orders.", code `PLT_KFK_USER`, no `apiId`, no
 * cause: clients/base/base.js): it stands for `UNKNOWN_TOPIC_OR_PARTITION`.
 */
const UNKNOWN_TOPIC = /^Unknown topic /;

/**
 * The Kafka errors in a @platformatic/kafka failure, outermost first: each `apiId` (the protocol
 * error name, `INVALID_SESSION_TIMEOUT`) with the broker's `serverErrorMessage` as `detail`, inside
 * `MultipleErrors`/`ResponseError` (`errors`: one per retry, per topic or per partition) and along
 * `cause`; its "Unknown topic" `UserError` as `UNKNOWN_TOPIC_OR_PARTITION`. For `brokerRefusal`
 * (adapter-kafka's refusals.ts).
 */
export function brokerErrors(error: unknown): BrokerError[] {
  const found: BrokerError[] = [];
  const seen = new Set<unknown>();
  const visit = (e: unknown): void => {
    if (typeof e !== 'object' || e === null || seen.has(e) || seen.size > 100) return;
    seen.add(e);
    const { apiId, serverErrorMessage, code, message, errors, cause } = e as {
      apiId?: unknown;
      serverErrorMessage?: unknown;
      code?: unknown;
      message?: unknown;
      errors?: unknown;
      cause?: unknown;
    };
    if (typeof apiId === 'string')
      found.push({
        name: apiId,
        detail:
          typeof serverErrorMessage === 'string' && serverErrorMessage !== ''
            ? serverErrorMessage
            : undefined,
      });
    else if (code === 'PLT_KFK_USER' && typeof message === 'string' && UNKNOWN_TOPIC.test(message))
      found.push({ name: 'UNKNOWN_TOPIC_OR_PARTITION' });
    if (Array.isArray(errors)) for (const inner of errors) visit(inner);
    visit(cause);
  };
  visit(error);
  return found;
}

/** Whether Kafka error `name` is somewhere in a @platformatic/kafka failure (see {@link brokerErrors}). */
export function hasBrokerError(error: unknown, name: string): boolean {
  return brokerErrors(error).some((e) => e.name === name);
}

/** `brokerRefusal` (adapter-kafka's refusals.ts, shared with the kafkajs driver) of a @platformatic/kafka failure. */
export function refusal(
  cause: unknown,
  refused: Refused,
  options: KafkaUrlOptions,
): CarrierError | undefined {
  return brokerRefusal(brokerErrors(cause), refused, options, cause);
}
