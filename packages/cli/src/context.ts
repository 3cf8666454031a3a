import type { Output } from './output.js';
import type { ProgressSettings } from './progress.js';

/** Signals a long-running command stops on (`process` in the real command). */
export interface SignalSource {
  on(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
  off(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
}

/** What every command gets. */
export interface Context {
  /** Redacting output. */
  readonly io: Output;
  /** Standard input (message bodies for `publish`). */
  readonly stdin: AsyncIterable<Uint8Array | string> & { readonly isTTY?: boolean | undefined };
  /** SIGINT/SIGTERM source. */
  readonly signals: SignalSource;
  /** Where and how long-running commands show progress (stderr, environment). */
  readonly progress: ProgressSettings;
}

/**
 * Resolves on the first SIGINT or SIGTERM, calling `onSecond` on a second one. `dispose` removes
 * the listeners.
 */
export function onStopSignals(
  signals: SignalSource,
  onSecond: () => void,
): { stopped: Promise<string>; dispose: () => void } {
  let count = 0;
  let resolve!: (signal: string) => void;
  const stopped = new Promise<string>((r) => {
    resolve = r;
  });
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((signal) => {
    const listener = () => {
      count++;
      if (count === 1) resolve(signal);
      else onSecond();
    };
    signals.on(signal, listener);
    return [signal, listener] as const;
  });
  return {
    stopped,
    dispose: () => {
      for (const [signal, listener] of handlers) signals.off(signal, listener);
    },
  };
}

/** Wait `ms` milliseconds (for polling loops with deadlines, never as a fixed delay in tests). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
