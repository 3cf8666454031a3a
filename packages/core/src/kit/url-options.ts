import { CarrierError } from '../errors.js';

/**
 * The rules every transport applies to the options of its URL (`?name=value`), in one place so
 * that they are the same on every broker:
 *
 * - an option is given at most once: a repeated option (`?client=a&client=b`) is refused, never
 *   resolved silently to its first or last value; a list is one comma-separated value
 *   (`?hosts=h2:9093,h3:9094`). Core's `parseCarrierUrl` applies it to every URL `connect` gets;
 * - an enumerated value ({@link urlChoice}) and a flag ({@link urlFlag}) are matched in any case
 *   (`client=Platformatic`, `queueType=Quorum`, `tls=TRUE`); a value outside the list is refused
 *   with an error listing the allowed ones.
 *
 * Messages name the option, never its value or the URL (which may hold credentials).
 */

/** Words of a flag, each matched in any case: the first of a pair is true, the second false. */
export const URL_FLAG_WORDS: readonly (readonly [string, string])[] = [
  ['true', 'false'],
  ['on', 'off'],
  ['yes', 'no'],
  ['1', '0'],
];

function invalid(message: string, transport: string | undefined): CarrierError {
  return new CarrierError('INVALID_ARGUMENT', message, transport === undefined ? {} : { transport });
}

/**
 * Refuse an option given more than once (`kafka://h:9092?client=a&client=b`).
 *
 * @param transport - the transport named on the error (none when core refuses it).
 * @throws CarrierError `INVALID_ARGUMENT` naming the first repeated option and how often it is
 *   given (never the values nor the URL).
 */
export function refuseRepeatedOptions(url: URL, transport?: string): void {
  const counts = new Map<string, number>();
  for (const name of url.searchParams.keys()) counts.set(name, (counts.get(name) ?? 0) + 1);
  for (const [name, count] of counts) {
    if (count > 1) {
      throw invalid(
        `the URL option ${JSON.stringify(name)} is given ${count} times: give each option once (a list as one comma-separated value)`,
        transport,
      );
    }
  }
}

/**
 * The value of an enumerated option, matched in any case and returned as spelled in `allowed`;
 * `fallback` when the option is absent.
 *
 * @throws CarrierError `INVALID_ARGUMENT` listing the allowed values when it is none of them.
 */
export function urlChoice<T extends string>(
  params: URLSearchParams,
  name: string,
  allowed: readonly T[],
  fallback: T,
  transport?: string,
): T {
  const raw = params.get(name);
  if (raw === null) return fallback;
  const lower = raw.toLowerCase();
  const match = allowed.find((value) => value.toLowerCase() === lower);
  if (match === undefined)
    throw invalid(`URL option ${name} must be one of ${allowed.join(', ')} (in any case)`, transport);
  return match;
}

/**
 * A flag: `true`/`false`, `on`/`off`, `yes`/`no` or `1`/`0`, in any case; `fallback` when the
 * option is absent. An empty value (`?tls=`, `?tls`) is refused: it says neither.
 *
 * @throws CarrierError `INVALID_ARGUMENT` listing the accepted words otherwise.
 */
export function urlFlag(
  params: URLSearchParams,
  name: string,
  fallback: boolean,
  transport?: string,
): boolean {
  const raw = params.get(name);
  if (raw === null) return fallback;
  const lower = raw.toLowerCase();
  for (const [yes, no] of URL_FLAG_WORDS) {
    if (lower === yes) return true;
    if (lower === no) return false;
  }
  const others = URL_FLAG_WORDS.slice(1)
    .map(([yes, no]) => `${yes}/${no}`)
    .join(', ');
  throw invalid(`URL option ${name} must be true or false (or ${others}; in any case)`, transport);
}
