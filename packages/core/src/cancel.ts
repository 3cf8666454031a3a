import { CarrierError } from './errors.js';

/** `signal` as given in an options object: absent, or an `AbortSignal` (else `INVALID_ARGUMENT`). */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal))
    throw new CarrierError('INVALID_ARGUMENT', 'signal must be an AbortSignal');
  return signal;
}

/** The `ABORTED` error of `what` (e.g. `publish to orders`), its cause the signal's reason. */
export function abortedError(signal: AbortSignal, what: string, transport: string): CarrierError {
  return new CarrierError('ABORTED', `${what} was aborted by its signal`, {
    transport,
    cause: signal.reason,
  });
}

/** Throw `ABORTED` when `signal` has already fired (the call must not touch the broker). */
export function throwIfAborted(signal: AbortSignal | undefined, what: string, transport: string): void {
  if (signal?.aborted) throw abortedError(signal, what, transport);
}

/**
 * `work`, or a rejection with `abort()`'s error as soon as one of `signals` fires, whichever comes
 * first. The abort listeners are removed once the returned promise settles, so a long-lived signal
 * passed to many calls collects no listeners. `work` keeps running after an abort; its outcome is
 * then ignored (a rejection is not reported as unhandled).
 */
export function raceSignals<T>(
  work: Promise<T>,
  signals: readonly (AbortSignal | undefined)[],
  abort: (signal: AbortSignal) => Error,
): Promise<T> {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length === 0) return work;
  work.catch(() => {});
  const fired = present.find((s) => s.aborted);
  if (fired) return Promise.reject(abort(fired));
  return new Promise<T>((resolve, reject) => {
    const listeners = present.map((signal) => {
      const listener = () => {
        detach();
        reject(abort(signal));
      };
      signal.addEventListener('abort', listener, { once: true });
      return { signal, listener };
    });
    const detach = () => {
      for (const { signal, listener } of listeners) signal.removeEventListener('abort', listener);
    };
    work.then(
      (value) => {
        detach();
        resolve(value);
      },
      (error: unknown) => {
        detach();
        reject(error);
      },
    );
  });
}
