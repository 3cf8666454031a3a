import { readFile } from 'node:fs/promises';
import { type BatchEntry, connect, JSON_TYPE, OCTET_STREAM, redactUrl, TEXT_UTF8 } from '@carrier/core';
import { parseHeaders } from '../args.js';
import type { Context } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { createProgress, progressMode } from '../progress.js';

/** Options of `carrier publish`. */
export interface PublishCommandOptions {
  readonly key?: string | undefined;
  readonly header: readonly string[];
  readonly id?: string | undefined;
  readonly contentType?: string | undefined;
  readonly json?: boolean | undefined;
  readonly text?: boolean | undefined;
  readonly file?: string | undefined;
  readonly lines?: boolean | undefined;
  readonly batch: number;
  /** False with `--no-progress`. Progress is shown with `--lines` only. */
  readonly progress?: boolean | undefined;
}

async function readAll(stream: AsyncIterable<Uint8Array | string>): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return new Uint8Array(Buffer.concat(chunks));
}

function contentTypeOf(options: PublishCommandOptions): string {
  const chosen = [options.contentType !== undefined, options.json === true, options.text === true].filter(
    Boolean,
  );
  if (chosen.length > 1) throw new CliError(ExitCode.USAGE, 'use only one of --content-type, --json, --text');
  if (options.json) return JSON_TYPE;
  if (options.text) return TEXT_UTF8;
  return options.contentType ?? OCTET_STREAM;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function checkJson(body: Uint8Array, what: string): void {
  try {
    JSON.parse(strictUtf8.decode(body));
  } catch {
    throw new CliError(ExitCode.USAGE, `--json: ${what} is not valid JSON`);
  }
}

/**
 * `carrier publish <url> <topic>`: publish the bytes of `--file` or of stdin as one message (or
 * each line as a message with `--lines`), exactly as read, with the given key, headers, id and
 * content type. Prints each published id on stdout; resolves once the broker confirmed them.
 */
export async function publishCommand(
  ctx: Context,
  url: string,
  topic: string,
  options: PublishCommandOptions,
): Promise<number> {
  const contentType = contentTypeOf(options);
  const headers = parseHeaders(options.header);
  if (options.lines && options.id !== undefined)
    throw new CliError(ExitCode.USAGE, '--id cannot be used with --lines');
  let body: Uint8Array;
  if (options.file !== undefined) {
    body = new Uint8Array(await readFile(options.file));
  } else {
    if (ctx.stdin.isTTY)
      throw new CliError(ExitCode.USAGE, 'no body: give --file PATH or pipe the body on stdin');
    body = await readAll(ctx.stdin);
  }
  let bodies: Uint8Array[];
  if (options.lines) {
    const text = Buffer.from(body).toString('utf8');
    const parts = text.split('\n');
    if (parts.at(-1) === '') parts.pop();
    bodies = parts.map(
      (line) => new Uint8Array(Buffer.from(line.endsWith('\r') ? line.slice(0, -1) : line, 'utf8')),
    );
  } else {
    bodies = [body];
  }
  if (contentType === JSON_TYPE) {
    for (const [i, b] of bodies.entries()) checkJson(b, options.lines ? `line ${i + 1}` : 'the body');
  }
  const carrier = await connect(url, { onError: (e) => ctx.io.error(e) });
  try {
    let published = 0;
    const progress = createProgress(ctx.io, ctx.progress, {
      label: `publish ${topic}`,
      unit: 'messages',
      total: bodies.length,
      mode: options.lines
        ? progressMode(ctx.progress.terminal, ctx.progress.env, options.progress !== false)
        : 'off',
    });
    try {
      for (let start = 0; start < bodies.length; start += options.batch) {
        const entries: BatchEntry[] = bodies.slice(start, start + options.batch).map((b) => ({
          body: b,
          contentType,
          key: options.key,
          headers,
          id: options.id,
        }));
        const receipts = await carrier.publishBatch(topic, entries);
        for (const r of receipts) ctx.io.out(r.id);
        published += receipts.length;
        progress.update(published);
      }
    } finally {
      progress.stop();
    }
    ctx.io.err(
      `published ${published} message${published === 1 ? '' : 's'} to ${topic} on ${redactUrl(url)}`,
    );
    return ExitCode.OK;
  } finally {
    await carrier.close();
  }
}
