import { type Carrier, connect, type DeadLetter, redactUrl } from '@carrier/core';
import { type Context, delay } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { letterRecord, prettyLetter } from '../format.js';
import { createProgress, progressMode } from '../progress.js';

/** Options shared by the reading `dlq` subcommands. */
export interface DlqReadOptions {
  /** Most letters to read. */
  readonly limit: number;
  /** Stop reading once no letter arrived for this long (ms). */
  readonly idle: number;
  readonly json?: boolean | undefined;
}

/**
 * Read up to `limit` dead letters without removing them. Core's dead-letter API removes a letter
 * when the handler returns and keeps it when the handler throws, so every letter is held (its
 * handler waits) until reading is over, then given back by throwing after the reader is closed.
 * Holding them all at once (prefetch = `limit`) is what keeps one letter from coming back again
 * and again while others are never seen.
 *
 * Caveat: giving a letter back counts as a delivery on brokers that count them (see the report
 * of issue 9: a non-destructive peek belongs in the transport SPI).
 */
async function peekLetters(
  carrier: Carrier,
  topic: string,
  group: string,
  limit: number,
  idleMs: number,
): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let last = Date.now();
  const subscription = await carrier.deadLetters(topic, group).subscribe(
    async (letter) => {
      letters.push(letter);
      last = Date.now();
      await released;
      throw new Error('kept: read without removing');
    },
    { concurrency: limit },
  );
  last = Date.now();
  while (letters.length < limit && Date.now() - last < idleMs) await delay(Math.min(50, idleMs));
  const closing = subscription.close(); // from here on, letters given back are not held again
  release();
  await closing;
  return letters;
}

async function withCarrier<T>(ctx: Context, url: string, use: (carrier: Carrier) => Promise<T>): Promise<T> {
  const carrier = await connect(url, { onError: (e) => ctx.io.error(e) });
  try {
    return await use(carrier);
  } finally {
    await carrier.close();
  }
}

/** `carrier dlq list`: print the dead letters of a group (up to `--limit`), without removing them. */
export function dlqList(
  ctx: Context,
  url: string,
  topic: string,
  group: string,
  options: DlqReadOptions,
): Promise<number> {
  return withCarrier(ctx, url, async (carrier) => {
    const letters = await peekLetters(carrier, topic, group, options.limit, options.idle);
    if (options.json) {
      for (const letter of letters) ctx.io.out(JSON.stringify(letterRecord(letter)));
    } else {
      for (const letter of letters) {
        ctx.io.out(
          `${letter.message.id}\t${letter.attempts}\t${letter.failedAt.toISOString()}\t${letter.reason}`,
        );
      }
    }
    const more = letters.length >= options.limit ? ` (--limit reached: there may be more)` : '';
    ctx.io.err(
      `${letters.length} dead letter${letters.length === 1 ? '' : 's'} of ${topic}/${group} on ${redactUrl(url)}${more}`,
    );
    return ExitCode.OK;
  });
}

/** `carrier dlq show`: print one dead letter (found by id among the first `--limit`) in full. */
export function dlqShow(
  ctx: Context,
  url: string,
  topic: string,
  group: string,
  id: string,
  options: DlqReadOptions,
): Promise<number> {
  return withCarrier(ctx, url, async (carrier) => {
    const letters = await peekLetters(carrier, topic, group, options.limit, options.idle);
    const matching = letters.filter((l) => l.message.id === id);
    if (matching.length === 0) {
      throw new CliError(
        ExitCode.NOT_FOUND,
        `no dead letter with id ${id} among ${letters.length} letters of ${topic}/${group}`,
      );
    }
    for (const letter of matching) {
      if (options.json) ctx.io.out(JSON.stringify(letterRecord(letter)));
      else for (const line of prettyLetter(letter)) ctx.io.out(line);
    }
    return ExitCode.OK;
  });
}

/** Letters moved per redrive call while the live line is shown (each call is one transport redrive). */
export const REDRIVE_CHUNK = 1_000;

/** Options of `carrier dlq redrive`. */
export interface DlqRedriveOptions {
  /** Most letters to move (default: all there are). */
  readonly max?: number | undefined;
  /** False with `--no-progress`: one redrive call, no progress. */
  readonly progress?: boolean | undefined;
}

/**
 * `carrier dlq redrive`: move up to `--max` letters back to the group (that group only). With the
 * live line (stderr a terminal), the letters are moved in calls of {@link REDRIVE_CHUNK} (the count
 * is reported after each) until a call moves fewer; otherwise (a pipe, `CI`, `--no-progress`) in one call.
 */
export function dlqRedrive(
  ctx: Context,
  url: string,
  topic: string,
  group: string,
  options: DlqRedriveOptions,
): Promise<number> {
  return withCarrier(ctx, url, async (carrier) => {
    const letters = carrier.deadLetters(topic, group);
    const mode = progressMode(ctx.progress.terminal, ctx.progress.env, options.progress !== false);
    const max = options.max ?? Number.MAX_SAFE_INTEGER;
    let moved = 0;
    if (mode !== 'live') {
      // not on a terminal (or --no-progress): one call, as scripts have always had it
      moved = await letters.redrive({ max });
    } else {
      const progress = createProgress(ctx.io, ctx.progress, {
        label: `redrive ${topic}/${group}`,
        unit: 'letters',
        mode,
      });
      try {
        while (moved < max) {
          const want = Math.min(REDRIVE_CHUNK, max - moved);
          const got = await letters.redrive({ max: want });
          moved += got;
          progress.update(moved);
          if (got < want) break;
        }
      } finally {
        progress.stop();
      }
    }
    ctx.io.out(String(moved));
    ctx.io.err(`redrove ${moved} dead letter${moved === 1 ? '' : 's'} of ${topic} back to group ${group}`);
    return ExitCode.OK;
  });
}

/** `carrier dlq purge`: read and acknowledge (delete) every dead letter of the group until none arrive. */
export function dlqPurge(
  ctx: Context,
  url: string,
  topic: string,
  group: string,
  options: { readonly yes?: boolean | undefined; readonly idle: number },
): Promise<number> {
  if (!options.yes) {
    return Promise.reject(
      new CliError(
        ExitCode.USAGE,
        `purge deletes every dead letter of ${topic}/${group}: add --yes to confirm`,
      ),
    );
  }
  return withCarrier(ctx, url, async (carrier) => {
    let purged = 0;
    let last = Date.now();
    const subscription = await carrier.deadLetters(topic, group).subscribe(
      () => {
        purged++;
        last = Date.now();
      },
      { concurrency: 64 },
    );
    last = Date.now();
    while (Date.now() - last < options.idle) await delay(Math.min(50, options.idle));
    await subscription.close();
    ctx.io.out(String(purged));
    ctx.io.err(`purged ${purged} dead letter${purged === 1 ? '' : 's'} of ${topic}/${group}`);
    return ExitCode.OK;
  });
}
