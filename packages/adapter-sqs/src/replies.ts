import { randomUUID } from 'node:crypto';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  ListQueuesCommand,
  ListQueueTagsCommand,
  SendMessageCommand,
  type SQSClient,
  TagQueueCommand,
} from '@aws-sdk/client-sqs';
import { CarrierError, type TransportSubscription, type WireMessage } from '@carrier/core';
import { awsError, errorName, TRANSPORT } from './errors.js';
import { encodeMessage } from './wire.js';

/**
 * Request/reply on SQS: one reply queue per requester connection, a standard queue in every mode
 * (SNS fan-out, FIFO, queue-only): a server sends its reply straight to it with SendMessage, never
 * through SNS. The reply address is the queue's URL. See docs/brokers/sqs.md, "Request/reply".
 */

/**
 * Name prefix of reply queues: `carrier_reply-<created, ms since the epoch in base 36>-<32 hex>`.
 * `_r` never occurs in an escaped Carrier name (names.ts: every `_` starts `_u`, `_p`, `__`, `_dlq`
 * or `_h`), so no topic or group queue can have such a name.
 */
export const REPLY_QUEUE_PREFIX = 'carrier_reply-';
/** Retention of a reply queue, in seconds: a reply nobody reads is deleted by SQS after it. */
export const REPLY_RETENTION_SECONDS = 300;
/** How often a live requester refreshes its queue's {@link TAG_ALIVE} tag, in ms. */
export const REPLY_HEARTBEAT_MS = 5 * 60_000;
/** A reply queue whose owner has not refreshed it for this long (three heartbeats) is a stray, in ms. */
export const REPLY_STRAY_AFTER_MS = 3 * REPLY_HEARTBEAT_MS;
/** Tag with the time (ISO 8601) its owner last refreshed it. */
const TAG_ALIVE = 'carrier-reply-alive';
const TAG_ROLE = 'carrier-role';
const REPLY_NAME = /^carrier_reply-([0-9a-z]{1,11})-[0-9a-f]{32}$/;

/** The reply queue's name, when `url` is the URL of a Carrier reply queue. */
export function replyQueueName(url: string): string | undefined {
  const name = url.slice(url.lastIndexOf('/') + 1);
  return REPLY_NAME.test(name) ? name : undefined;
}

/** When a reply queue was created (ms since the epoch), from its name. */
function createdAt(name: string): number | undefined {
  const m = REPLY_NAME.exec(name);
  return m ? Number.parseInt(m[1]!, 36) : undefined;
}

function isMissingQueue(error: unknown): boolean {
  const name = errorName(error);
  return name.includes('NonExistentQueue') || name.includes('QueueDoesNotExist');
}

/** What a {@link ReplyQueue} needs of the connection. */
export interface ReplyQueueSettings {
  readonly sqs: SQSClient;
  /** Starts a receive loop on `queueUrl` handing each message to `deliver` and deleting it. */
  readonly receive: (queueUrl: string) => TransportSubscription;
  readonly onError: (error: Error) => void;
}

/**
 * The reply queue of one requester connection: created on open, deleted on close. A crashed
 * requester leaves it behind: {@link sweepStrayReplyQueues} (run in the background by every open)
 * deletes the queues whose owner stopped refreshing their `carrier-reply-alive` tag.
 */
export class ReplyQueue {
  readonly name = `${REPLY_QUEUE_PREFIX}${Date.now().toString(36)}-${randomUUID().replaceAll('-', '')}`;
  readonly #settings: ReplyQueueSettings;
  #url: string | undefined;
  #subscription: TransportSubscription | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  constructor(settings: ReplyQueueSettings) {
    this.#settings = settings;
  }

  /**
   * Creates the queue (standard, 5-minute retention, tagged) and starts receiving; resolves with
   * its URL, the reply address.
   *
   * @throws CarrierError `CONNECTION` when SQS refused or did not answer.
   */
  async open(): Promise<string> {
    const { sqs } = this.#settings;
    let url: string | undefined;
    try {
      const out = await sqs.send(
        new CreateQueueCommand({
          QueueName: this.name,
          Attributes: { MessageRetentionPeriod: String(REPLY_RETENTION_SECONDS) },
          tags: { [TAG_ROLE]: 'reply', [TAG_ALIVE]: new Date().toISOString() },
        }),
      );
      url = out.QueueUrl;
    } catch (error) {
      throw awsError(`SQS CreateQueue ${this.name}`, error);
    }
    if (!url) throw awsError(`SQS CreateQueue ${this.name}`, new Error('no QueueUrl in the response'));
    this.#url = url;
    this.#subscription = this.#settings.receive(url);
    this.#heartbeat = setInterval(() => void this.#refresh(), REPLY_HEARTBEAT_MS);
    this.#heartbeat.unref();
    void sweepStrayReplyQueues(sqs, { except: url }).catch(() => {}); // best effort, see its doc
    return url;
  }

  async #refresh(): Promise<void> {
    try {
      await this.#settings.sqs.send(
        new TagQueueCommand({ QueueUrl: this.#url, Tags: { [TAG_ALIVE]: new Date().toISOString() } }),
      );
    } catch (error) {
      this.#settings.onError(awsError(`SQS TagQueue (heartbeat of reply queue ${this.name})`, error));
    }
  }

  /** Stops receiving (waits for the long poll in flight) and deletes the queue. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    clearInterval(this.#heartbeat);
    await this.#subscription?.close();
    if (!this.#url) return;
    try {
      await this.#settings.sqs.send(new DeleteQueueCommand({ QueueUrl: this.#url }));
    } catch (error) {
      if (!isMissingQueue(error))
        this.#settings.onError(awsError(`SQS DeleteQueue ${this.name} (a stray reply queue is left)`, error));
    }
  }

  /** Stops the heartbeat only (the receive loop is aborted with the transport); the queue is left as a stray. */
  abort(): void {
    clearInterval(this.#heartbeat);
  }
}

/**
 * Sends a reply to the reply queue at `address`. A queue that no longer exists (its requester
 * closed, or it was swept) drops the reply: resolves.
 *
 * @throws CarrierError `INVALID_ARGUMENT` when `address` is not the URL of a Carrier reply queue (a
 *   request's `replyTo` never makes Carrier send to another queue); `PUBLISH_FAILED` when SQS
 *   refused it or did not answer.
 */
export async function sendReply(sqs: SQSClient, address: string, message: WireMessage): Promise<void> {
  if (replyQueueName(address) === undefined) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `reply address ${JSON.stringify(address.slice(0, 200))} is not the URL of a Carrier reply queue (${REPLY_QUEUE_PREFIX}…)`,
      { transport: TRANSPORT },
    );
  }
  const encoded = encodeMessage(message);
  try {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: address,
        MessageBody: encoded.body,
        MessageAttributes: encoded.attributes,
      }),
    );
  } catch (error) {
    if (isMissingQueue(error)) return; // the requester is gone: nobody waits for it
    throw awsError('SQS SendMessage (reply)', error, 'PUBLISH_FAILED');
  }
}

/**
 * Deletes the reply queues of requesters that are gone without closing (a crash, `abort()`): every
 * queue named `carrier_reply-…` created more than 15 minutes ago whose
 * `carrier-reply-alive` tag is older than that. Live requesters refresh the tag every 5 min. Run in
 * the background each time a connection opens its reply queue; errors (missing permissions:
 * `sqs:ListQueues`, `sqs:ListQueueTags`, `sqs:DeleteQueue`) are ignored there. Resolves with how
 * many queues it deleted. `options.except`: a queue URL to leave alone; `options.now`: the time to
 * judge by (ms since the epoch, default now).
 *
 * @throws the AWS SDK's error when listing the queues or reading a queue's tags fails.
 */
export async function sweepStrayReplyQueues(
  sqs: SQSClient,
  options: { except?: string; now?: number } = {},
): Promise<number> {
  const now = options.now ?? Date.now();
  let deleted = 0;
  let next: string | undefined;
  do {
    const out = await sqs.send(
      new ListQueuesCommand({ QueueNamePrefix: REPLY_QUEUE_PREFIX, MaxResults: 1000, NextToken: next }),
    );
    for (const url of out.QueueUrls ?? []) {
      if (url === options.except || !(await isStray(sqs, url, now))) continue;
      await sqs.send(new DeleteQueueCommand({ QueueUrl: url })).then(
        () => deleted++,
        () => {}, // deleted meanwhile, or not ours to delete
      );
    }
    next = out.NextToken;
  } while (next);
  return deleted;
}

async function isStray(sqs: SQSClient, url: string, now: number): Promise<boolean> {
  const name = replyQueueName(url);
  const created = name === undefined ? undefined : createdAt(name);
  if (created === undefined || now - created < REPLY_STRAY_AFTER_MS) return false;
  const tags = (await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags ?? {};
  const alive = Date.parse(tags[TAG_ALIVE] ?? '');
  return !(now - alive < REPLY_STRAY_AFTER_MS); // NaN (no tag): a stray
}
