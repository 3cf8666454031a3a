import { inspect } from 'node:util';
import { CarrierError } from '@carrier/core';

// Helpers of the TLS/auth specs: every text a failed connect can show a user (message, toString,
// stack, the whole cause chain with all properties, lines given to onError), to search for secrets.

/** Every text of `error`: message, `String()`, stack, and `util.inspect` of it and of each cause. */
export function textsOf(error: unknown): string[] {
  const texts: string[] = [];
  const seen = new Set<unknown>();
  for (let e = error; e !== undefined && e !== null && !seen.has(e); ) {
    seen.add(e);
    if (e instanceof Error) texts.push(e.message, String(e), e.stack ?? '');
    texts.push(inspect(e, { depth: 8, showHidden: true, getters: true }));
    e = (e as { cause?: unknown }).cause;
  }
  return texts;
}

/**
 * The distinctive part of a secret to search for: a password or token as it is, and for a PEM key
 * or an NKey seed file, each line of its body (any one of them leaking is a leak).
 */
export function needles(secret: string): string[] {
  const lines = secret
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length >= 16 && !l.startsWith('-----'));
  return lines.length > 0 ? lines : [secret];
}

/** Fails naming the secret's label (never its value) when any text contains any secret. */
export function expectNoSecrets(texts: readonly string[], secrets: Readonly<Record<string, string>>): void {
  for (const [label, secret] of Object.entries(secrets)) {
    for (const needle of needles(secret)) {
      const leaked = texts.findIndex((t) => t.includes(needle));
      if (leaked >= 0) throw new Error(`the ${label} appears in text #${leaked} of the error or log`);
    }
  }
}

/** What a connect that must fail did: its error (a CarrierError), how long it took, what onError got. */
export interface Refusal {
  readonly error: CarrierError;
  readonly elapsedMs: number;
  readonly texts: string[];
}

/**
 * Runs `attempt` (a `connect` that must fail, given an `onError` that collects), and returns its
 * CarrierError, the time it took and every text of the error and of the reported errors.
 */
export async function refusal(attempt: (onError: (e: Error) => void) => Promise<unknown>): Promise<Refusal> {
  const reported: Error[] = [];
  const started = performance.now();
  let thrown: unknown;
  try {
    const carrier = (await attempt((e) => reported.push(e))) as { close?: () => Promise<void> } | undefined;
    await carrier?.close?.();
  } catch (error) {
    thrown = error;
  }
  const elapsedMs = performance.now() - started;
  if (!(thrown instanceof CarrierError)) {
    throw new Error(
      `expected a CarrierError, got ${thrown === undefined ? 'a connection' : inspect(thrown)}`,
    );
  }
  return { error: thrown, elapsedMs, texts: [...textsOf(thrown), ...reported.flatMap(textsOf)] };
}
