import type { DeadLetter, Message } from '@carrier/core';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

function isTextual(contentType: string): boolean {
  const type = mediaType(contentType);
  return type.startsWith('text/') || type === 'application/json' || type.endsWith('+json');
}

/** The body as text when its content type is textual and its bytes are valid UTF-8. */
function bodyText(raw: Uint8Array, contentType: string): string | undefined {
  if (!isTextual(contentType)) return undefined;
  try {
    return strictUtf8.decode(raw);
  } catch {
    return undefined;
  }
}

function hasMetadata(message: Message): boolean {
  return message.metadata !== undefined && Object.keys(message.metadata).length > 0;
}

/**
 * A message as one JSON object (one line of `--json` output). Textual bodies (text/*, JSON) are
 * given as `body` (the text exactly as received, JSON included); other bodies as `bodyBase64`.
 * `metadata` (Carrier's: correlation id, trace context, …; `deadline` as ISO 8601) only when the
 * message has any.
 */
export function messageRecord(message: Message): Record<string, unknown> {
  const text = bodyText(message.raw, message.contentType);
  return {
    id: message.id,
    topic: message.topic,
    key: message.key ?? null,
    headers: message.headers,
    ...(hasMetadata(message) ? { metadata: message.metadata } : {}),
    contentType: message.contentType,
    publishedAt: message.publishedAt.toISOString(),
    attempt: message.attempt,
    ...(text === undefined ? { bodyBase64: Buffer.from(message.raw).toString('base64') } : { body: text }),
  };
}

/** A dead letter as one JSON object: the message plus `reason`, `attempts`, `failedAt`. */
export function letterRecord(letter: DeadLetter): Record<string, unknown> {
  return {
    ...messageRecord(letter.message),
    reason: letter.reason,
    attempts: letter.attempts,
    failedAt: letter.failedAt.toISOString(),
  };
}

const PREVIEW_BYTES = 4_096;

function bodyPreview(message: Message): string {
  const text = bodyText(message.raw, message.contentType);
  if (text !== undefined)
    return text.length > PREVIEW_BYTES
      ? `${text.slice(0, PREVIEW_BYTES)}… (${message.raw.byteLength} bytes)`
      : text;
  const head = Buffer.from(message.raw.subarray(0, 64)).toString('hex');
  return `<${message.raw.byteLength} bytes> ${head}${message.raw.byteLength > 64 ? '…' : ''}`;
}

/** A message for people: a header line, the content type and headers, then the body. */
export function prettyMessage(message: Message): string[] {
  const key = message.key === undefined ? '' : `  key=${JSON.stringify(message.key)}`;
  const lines = [
    `── ${message.topic}  id=${message.id}${key}  attempt=${message.attempt}  ${message.publishedAt.toISOString()}`,
    `   content-type: ${message.contentType}`,
  ];
  for (const [k, v] of Object.entries(message.headers)) lines.push(`   ${k}: ${v}`);
  if (hasMetadata(message)) lines.push(`   metadata: ${JSON.stringify(message.metadata)}`);
  for (const line of bodyPreview(message).split('\n')) lines.push(`   ${line}`);
  return lines;
}

/** A dead letter for people: the failure, then the message. */
export function prettyLetter(letter: DeadLetter): string[] {
  return [
    `── dead letter id=${letter.message.id}  attempts=${letter.attempts}  failed ${letter.failedAt.toISOString()}`,
    `   reason: ${letter.reason}`,
    ...prettyMessage(letter.message).slice(1),
  ];
}
