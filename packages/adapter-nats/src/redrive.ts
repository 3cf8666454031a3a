import type { JetStreamManager, MsgRequest } from '@nats-io/jetstream';
import type { Link } from './link.js';
import { deadLetterStream, deadLetterSubject, redriveSubject, topicStream } from './names.js';
import type { Producer } from './producer.js';
import type { Settlement } from './settlement.js';
import { decodeMessage, encodeHeaders } from './wire.js';

type Stored = Awaited<ReturnType<JetStreamManager['streams']['getMessage']>>;

/** What {@link redrive} works with. */
export interface RedriveContext {
  readonly link: Link;
  readonly producer: Producer;
  readonly settlement: Settlement;
}

/**
 * Move up to `max` dead letters of one group back to that group only, oldest first: each is
 * published anew on the group's redrive subject (attempt 1, no other group filters on it), then
 * deleted from the dead-letter stream. `Nats-Msg-Id` = `carrier-redrive:<stream>:<seq>`, so
 * redriving the same letter twice within the duplicate window stores it once.
 *
 * @returns how many were moved.
 * @throws CarrierError `CONNECTION`, `TIMEOUT` or `CLOSED`; the letters moved before stay moved.
 */
export async function redrive(
  ctx: RedriveContext,
  topic: string,
  group: string,
  max: number,
): Promise<number> {
  const dlq = deadLetterStream(topic);
  const subject = deadLetterSubject(topic, group);
  let moved = 0;
  let from = 1;
  while (moved < max) {
    let stored: Stored;
    try {
      const query = { seq: from, next_by_subj: subject } as unknown as MsgRequest;
      stored = await ctx.link.jsm.streams.getMessage(dlq, query);
    } catch (error) {
      throw ctx.link.wrap(error, `cannot read dead letters of ${topic}/${group}`);
    }
    if (!stored) break;
    await moveOne(ctx, topic, group, dlq, stored);
    moved++;
    from = stored.seq + 1;
  }
  return moved;
}

/** Publish one stored dead letter on the group's redrive subject, then delete it. */
async function moveOne(
  ctx: RedriveContext,
  topic: string,
  group: string,
  dlq: string,
  stored: NonNullable<Stored>,
): Promise<void> {
  const { message } = decodeMessage(stored.header, stored.data, {
    stream: dlq,
    sequence: stored.seq,
    timestamp: stored.time,
  });
  try {
    // a new message on the group's own redrive subject: attempt 1, no other group sees it;
    // the msgID makes a repeated redrive of the same dead letter a server-side duplicate
    await ctx.producer.publishOne({
      subject: redriveSubject(topic, group),
      stream: topicStream(topic),
      body: message.body,
      entries: encodeHeaders(message),
      msgId: `carrier-redrive:${dlq}:${stored.seq}`,
    });
  } catch (error) {
    throw ctx.link.wrap(error, `redrive of ${message.id} not confirmed`);
  }
  await ctx.settlement.deleteDeadLetter(dlq, stored.seq);
}
