// Helpers of the secret-leak checks (secrets.spec.ts, kafka.auth.spec.ts, sqs.auth.spec.ts): every
// text a user or an operator could see — an error's message, stack, cause chain, JSON and
// util.inspect form; a carrier's and a transport's String() and inspect; console output; the
// CLI's output — gathered under a label, then searched for the secret.
import { inspect } from 'node:util';
import { expect } from 'vitest';
import { runCli } from './cli-support.js';

/** Texts gathered under labels, searched for secrets by {@link Exposure.expectNone}. */
export class Exposure {
  readonly texts: { label: string; text: string }[] = [];

  add(label: string, text: string): void {
    this.texts.push({ label, text });
  }

  /** Every visible form of `error` and its causes. */
  addError(label: string, error: unknown): void {
    this.add(`${label}: String`, String(error));
    this.add(`${label}: inspect`, inspect(error, { depth: 8 }));
    this.add(`${label}: JSON`, safeJson(error));
    let e: unknown = error;
    for (let i = 0; e instanceof Error && i < 10; i++, e = e.cause) {
      this.add(`${label}: cause ${i} message`, e.message);
      this.add(`${label}: cause ${i} stack`, e.stack ?? '');
      this.add(`${label}: cause ${i} JSON`, safeJson(e));
    }
  }

  /** String() and util.inspect of an object (a carrier, a transport). */
  addObject(label: string, value: unknown): void {
    this.add(`${label}: String`, String(value));
    this.add(`${label}: inspect`, inspect(value, { depth: 4 }));
  }

  /** Fails naming every label whose text contains one of `secrets` (each at least 6 characters). */
  expectNone(secrets: readonly string[]): void {
    for (const s of secrets) expect(s.length, 'a secret of at least 6 characters').toBeGreaterThanOrEqual(6);
    const leaks = this.texts.flatMap(({ label, text }) =>
      secrets.filter((s) => text.includes(s)).map((s) => `${label} contains ${JSON.stringify(s)}:\n${text}`),
    );
    expect(leaks, leaks.join('\n---\n')).toEqual([]);
    expect(this.texts.length).toBeGreaterThan(0);
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch (e) {
    return `(JSON.stringify threw ${String(e)})`;
  }
}

/** Resolves with what `action` rejected with; fails the test when it resolved. */
export async function failure(action: () => Promise<unknown>): Promise<unknown> {
  try {
    await action();
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure, the call succeeded');
}

/**
 * Runs `body` with console.* and process.stdout/stderr writes captured (and still passed on),
 * then adds what was written to `exposure` under `label`.
 */
export async function capturingConsole<T>(
  exposure: Exposure,
  label: string,
  body: () => Promise<T>,
): Promise<T> {
  const captured: string[] = [];
  const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
  const saved = methods.map((m) => console[m]);
  for (const m of methods) {
    const original = console[m];
    console[m] = (...args: unknown[]) => {
      captured.push(args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 6 }))).join(' '));
      original.apply(console, args);
    };
  }
  const writes = [process.stdout, process.stderr].map((stream) => {
    const original = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      captured.push(String(chunk));
      return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
    return () => {
      stream.write = original;
    };
  });
  try {
    return await body();
  } finally {
    methods.forEach((m, i) => {
      console[m] = saved[i] as (typeof console)[typeof m];
    });
    for (const restore of writes) restore();
    exposure.add(`${label}: console`, captured.join(''));
  }
}

/** Runs `carrier doctor <url>` (and with --json) and adds its output; resolves with the exit codes. */
export async function doctorOutput(exposure: Exposure, url: string, label: string): Promise<number[]> {
  const codes: number[] = [];
  for (const json of [false, true]) {
    const r = await runCli(['doctor', url, '--timeout', '10s', ...(json ? ['--json'] : [])], {
      timeoutMs: 60_000,
    });
    exposure.add(`${label}: doctor${json ? ' --json' : ''} stdout`, r.stdout);
    exposure.add(`${label}: doctor${json ? ' --json' : ''} stderr`, r.stderr);
    codes.push(r.code ?? -1);
  }
  return codes;
}
