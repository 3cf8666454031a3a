import { CarrierError, type CarrierErrorCode } from '@carrier/core';
import { expect } from 'vitest';

/** Await `promise` (or call it) and assert it fails with a `CarrierError` of `code`. */
export async function expectCode(
  promise: Promise<unknown> | (() => unknown),
  code: CarrierErrorCode,
): Promise<CarrierError> {
  let error: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (e) {
    error = e;
  }
  expect(error, `expected CarrierError ${code}`).toBeInstanceOf(CarrierError);
  expect((error as CarrierError).code, String(error)).toBe(code);
  return error as CarrierError;
}

/** Bytes no text codec survives: NULs, 0xFF/0xFE, a lone continuation byte, an invalid sequence, CR/LF. */
export const BINARY = new Uint8Array([0x00, 0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x0a, 0x0d, 0x00]);
