import { CliError, ExitCode } from './exit-codes.js';

/** Commander accumulator for a repeatable option. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Parse repeated `--header k=v` values into an object (the first `=` splits; values may contain `=`). */
export function parseHeaders(pairs: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliError(ExitCode.USAGE, `--header ${JSON.stringify(pair)}: expected KEY=VALUE`);
    const key = pair.slice(0, at);
    if (Object.hasOwn(headers, key)) throw new CliError(ExitCode.USAGE, `--header ${key} given twice`);
    headers[key] = pair.slice(at + 1);
  }
  return headers;
}

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `5s`, `10m`, `2h`, `1d`, or a plain number of milliseconds. */
export function parseDuration(text: string, option = 'duration'): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match)
    throw new CliError(ExitCode.USAGE, `${option} ${JSON.stringify(text)}: use e.g. 500ms, 5s, 10m, 2h`);
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']!);
}

/** A positive integer option value. */
export function parsePositiveInt(text: string, option: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new CliError(ExitCode.USAGE, `${option} ${JSON.stringify(text)}: expected a positive integer`);
  }
  return n;
}

/**
 * A point in time: an ISO-8601 date-time (`2026-11-23T10:00:00Z`), `now`, or a duration ago
 * (`15m`, `2h` meaning that long before `now`).
 */
export function parseTime(text: string, option: string, now: number = Date.now()): Date {
  if (text === 'now') return new Date(now);
  if (/^\d+(?:\.\d+)?(ms|s|m|h|d)$/.test(text)) return new Date(now - parseDuration(text, option));
  const t = Date.parse(text);
  if (Number.isNaN(t)) {
    throw new CliError(
      ExitCode.USAGE,
      `${option} ${JSON.stringify(text)}: use an ISO date-time, 'now', or a duration ago like 15m`,
    );
  }
  return new Date(t);
}
