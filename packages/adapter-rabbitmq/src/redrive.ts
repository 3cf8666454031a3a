import { CarrierError } from '@carrier/core';
import { describeError } from '@carrier/core/kit';
import type { Channel, GetMessage } from 'amqplib';
import { openChannel } from './connection.js';
import { rabbitError } from './errors.js';
import { deadLetterQueueName, groupQueueName } from './names.js';
import type { Outgoing } from './producer.js';
import type { Session } from './session.js';
import { copyProperties, decodeMessage } from './wire.js';

/** Dead letters moved per confirm round trip by {@link redrive}. */
const REDRIVE_BATCH = 100;

/**
 * Move up to `max` dead letters of the group back to its queue, in batches of 100: each batch is
 * read with `basic.get`, republished to the group queue (attempt and dead-letter headers removed)
 * with confirms, then the confirmed ones are acked and the others given back. Resolves with how
 * many moved.
 *
 * @throws CarrierError `PUBLISH_FAILED` when a copy was not confirmed (the redrive stops there),
 *   `CONNECTION` when the channel or connection failed; either way the letters not moved stay.
 */
export async function redrive(session: Session, topic: string, group: string, max: number): Promise<number> {
  await session.topology.group(topic, group, false);
  const dlq = deadLetterQueueName(topic, group);
  const channel = await openChannel(session.model, `redrive ${dlq}`);
  let moved = 0;
  try {
    while (moved < max) {
      const batch = await takeBatch(channel, dlq, Math.min(REDRIVE_BATCH, max - moved));
      if (batch.length === 0) break;
      const outcomes = await session.publisher.publish(batch.map((got) => copyBack(got, topic, group)));
      for (const [index, got] of batch.entries()) {
        if (outcomes[index] === undefined) channel.ack(got);
        else channel.nack(got, false, true);
      }
      moved += outcomes.filter((error) => error === undefined).length;
      const failed = outcomes.find((error) => error !== undefined);
      if (failed) {
        throw rabbitError(
          'PUBLISH_FAILED',
          `redrive of ${dlq} stopped after ${moved} message(s): ${failed.message}`,
          failed,
        );
      }
    }
  } catch (error) {
    if (error instanceof CarrierError) throw error;
    throw rabbitError(
      'CONNECTION',
      `redrive of ${dlq} failed after ${moved} message(s): ${describeError(error)}`,
      error,
    );
  } finally {
    // closing waits for the broker to process the acks sent on this channel
    await channel.close().catch(() => {});
  }
  return moved;
}

/** Up to `count` messages of `queue`, unacked. */
async function takeBatch(channel: Channel, queue: string, count: number): Promise<GetMessage[]> {
  const batch: GetMessage[] = [];
  while (batch.length < count) {
    const got = await channel.get(queue, { noAck: false });
    if (got === false) break;
    batch.push(got);
  }
  return batch;
}

/** The copy of a dead letter for the group queue: without its attempt and dead-letter headers. */
function copyBack(got: GetMessage, topic: string, group: string): Outgoing {
  const { message } = decodeMessage(got);
  return {
    exchange: '',
    routingKey: groupQueueName(topic, group),
    content: got.content,
    options: {
      ...copyProperties(got.properties, { id: message.id, attempt: undefined, deadLetter: undefined }),
      messageId: message.id,
    },
  };
}
