import { isCarrierError, scrub, urlSecrets } from '@carrier/core';
import type { LiveLine, ProgressTerminal } from './progress.js';

/** Where the command writes: stdout for results, stderr for progress and diagnostics. */
export interface Streams {
  /** Results; when it is a terminal too (`isTTY`), a live progress line is cleared before each write. */
  readonly stdout: { write(text: string): unknown; readonly isTTY?: boolean | undefined };
  /** Progress goes here too: a live line when it is a terminal (`isTTY`), plain lines otherwise. */
  readonly stderr: ProgressTerminal;
}

const URL_LIKE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** Secrets of every URL-looking argument (passwords, secret query values), to scrub from output. */
export function secretsOf(args: readonly string[]): string[] {
  const secrets = new Set<string>();
  for (const arg of args) {
    // `--opt=url` forms too
    const value = arg.startsWith('--') && arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : arg;
    if (!URL_LIKE.test(value)) continue;
    try {
      for (const s of urlSecrets(new URL(value))) secrets.add(s);
    } catch {
      // not a URL after all
    }
  }
  return [...secrets];
}

/**
 * Every line the command prints goes through here and has the credentials of the URLs it was
 * given replaced by `***` (URLs are additionally printed with `redactUrl`), so no password or
 * token reaches a terminal, a log file or CI output.
 */
export class Output {
  readonly #streams: Streams;
  readonly #secrets: string[];
  #live: LiveLine | undefined;

  constructor(streams: Streams, secrets: readonly string[]) {
    this.#streams = streams;
    // longest first, so a secret that contains another is scrubbed whole
    this.#secrets = [...secrets].sort((a, b) => b.length - a.length);
  }

  /**
   * A live progress line is on stderr (undefined: not any more): every write clears it first, and
   * the progress redraws it below what was written.
   */
  setLiveLine(line: LiveLine | undefined): void {
    this.#live = line;
  }

  /** Scrub `text` of every known secret. */
  clean(text: string): string {
    return scrub(text, this.#secrets);
  }

  /** Write a result line to stdout. */
  out(line: string): void {
    if (this.#streams.stdout.isTTY) this.#live?.interrupt();
    this.#streams.stdout.write(`${this.clean(line)}\n`);
  }

  /** Write raw text (already newline-terminated) to stdout. */
  outRaw(text: string): void {
    if (this.#streams.stdout.isTTY) this.#live?.interrupt();
    this.#streams.stdout.write(this.clean(text));
  }

  /** Write a diagnostic or progress line to stderr. */
  err(line: string): void {
    this.#live?.interrupt();
    this.#streams.stderr.write(`${this.clean(line)}\n`);
  }

  /** Write raw text (already newline-terminated) to stderr. */
  errRaw(text: string): void {
    this.#live?.interrupt();
    this.#streams.stderr.write(this.clean(text));
  }

  /** Print an error with its code and causes on stderr. */
  error(error: unknown): void {
    this.err(`carrier: error: ${describeError(error)}`);
    let cause = error instanceof Error ? error.cause : undefined;
    for (let depth = 0; cause !== undefined && depth < 5; depth++) {
      this.err(`  caused by: ${describeError(cause)}`);
      cause = cause instanceof Error ? cause.cause : undefined;
    }
  }
}

function describeError(error: unknown): string {
  if (isCarrierError(error)) {
    const failures = error.failures.length > 0 ? ` (${error.failures.length} messages not confirmed)` : '';
    return `[${error.code}${error.transport ? ` ${error.transport}` : ''}] ${error.message}${failures}`;
  }
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
