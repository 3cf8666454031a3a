/**
 * The message of any thrown value, for an error message or a log line: an `Error`'s `message`, a
 * string as it is, an object's string `message` property, else `String(value)` (never throws, even
 * for a value whose `toString` does).
 */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  const message = (error as { message?: unknown } | null | undefined)?.message;
  if (typeof message === 'string') return message;
  try {
    return String(error);
  } catch {
    return Object.prototype.toString.call(error);
  }
}

/** `error` itself when it is an `Error`, else an `Error` whose message is {@link describeError}'s. */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(describeError(error), { cause: error });
}
