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

/** Callbacks per signal, behind one listener each (see {@link onAbort}). */
const watchers = new WeakMap<AbortSignal, { callbacks: Set<() => void>; listener: () => void }>();

/**
 * Call `callback` once when `signal` fires; returns the function that forgets it. Every call on one
 * signal shares a single `abort` listener, removed once no callback is left: one `shutdown` signal
 * passed to any number of publishes and subscriptions adds one listener, not one per call (Node
 * warns past 10 listeners on one signal, `MaxListenersExceededWarning`).
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let watched = watchers.get(signal);
  if (!watched) {
    const callbacks = new Set<() => void>();
    const listener = () => {
      watchers.delete(signal);
      for (const f of [...callbacks]) f();
    };
    watched = { callbacks, listener };
    watchers.set(signal, watched);
    signal.addEventListener('abort', listener, { once: true });
  }
  const entry = watched;
  const mine = () => {
    forget();
    callback();
  };
  const forget = () => {
    if (!entry.callbacks.delete(mine) || entry.callbacks.size > 0) return;
    // no callback left: the listener goes too (a later call adds a new one)
    signal.removeEventListener('abort', entry.listener);
    if (watchers.get(signal) === entry) watchers.delete(signal);
  };
  entry.callbacks.add(mine);
  return forget;
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
    const forgets = present.map((signal) =>
      onAbort(signal, () => {
        detach();
        reject(abort(signal));
      }),
    );
    const detach = () => {
      for (const forget of forgets) forget();
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
