import { CarrierError, type CarrierErrorCode } from '@carrier/core';

/** Transport name used in every error. */
export const TRANSPORT = 'rabbitmq';

/** A `CarrierError` raised by this transport. */
export function rabbitError(code: CarrierErrorCode, message: string, cause?: unknown): CarrierError {
  return new CarrierError(code, message, { transport: TRANSPORT, cause });
}

/** The AMQP reply code of an amqplib error (406 PRECONDITION_FAILED, 404 NOT_FOUND, …), if any. */
export function replyCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}
