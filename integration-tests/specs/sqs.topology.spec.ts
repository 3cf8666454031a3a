import { deadLetterQueueName, groupQueueName } from '@carrier/adapter-sqs';
import { freshName, waitFor } from '@carrier/contract';
import {
  type Carrier,
  CarrierError,
  connect,
  type DeadLetter,
  type Message,
  NonRetryableError,
} from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';

// What Carrier creates on SQS/SNS beyond the contract suite: queue-only mode's one-group rule,
// names past SQS's 80 characters, and provision=false (existing resources only).

const TIMEOUT = 30_000;

function url(options = ''): string {
  const base = inject('brokers').sqs;
  return options ? `${base}${base.includes('?') ? '&' : '?'}${options}` : base;
}

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(CarrierError);
    return (e as CarrierError).code;
  }
  return undefined;
}

describe('sqs topology', { timeout: 120_000 }, () => {
  const open: Carrier[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
  });
  async function carrier(options = ''): Promise<Carrier> {
    const c = await connect(url(options));
    open.push(c);
    return c;
  }

  it('queue-only mode: the first group owns the topic, another group is UNSUPPORTED, also from another connection', async () => {
    const c1 = await carrier('sns=false');
    const c2 = await carrier('sns=false');
    const topic = freshName('qonly');
    expect(c1.capabilities.fanOut).toBe(false);
    const got: string[] = [];
    await c1.subscribe(topic, { group: 'owner' }, (m) => {
      got.push(m.id);
    });
    expect(await code(c2.subscribe(topic, { group: 'intruder' }, () => {}))).toBe('UNSUPPORTED');
    expect(await code(c2.declare(topic, ['intruder']))).toBe('UNSUPPORTED');
    // the owner group from another connection competes for the same queue
    await c2.subscribe(topic, { group: 'owner' }, (m) => {
      got.push(m.id);
    });
    const { id } = await c2.publish(topic, 'x');
    await waitFor(() => got.includes(id), TIMEOUT, 'the message on the owning group');
  });

  it('names longer than 80 characters map to distinct hashed queues that work', async () => {
    const c = await carrier();
    const stem = `long-${Date.now().toString(36)}`;
    const topic = `${stem}.${'t'.repeat(100 - stem.length - 1)}`;
    const groups = [`${'g'.repeat(99)}a`, `${'g'.repeat(99)}b`];
    expect(topic).toHaveLength(100);
    const names = groups.flatMap((g) => [
      groupQueueName(topic, g, { fifo: false }),
      deadLetterQueueName(topic, g, { fifo: false }),
    ]);
    expect(new Set(names).size).toBe(4);
    for (const n of names) expect(n.length).toBeLessThanOrEqual(80);
    const got = new Map<string, Message[]>(groups.map((g) => [g, []]));
    for (const g of groups) {
      await c.subscribe(topic, { group: g }, (m) => {
        got.get(g)!.push(m);
      });
    }
    const { id } = await c.publish(topic, { long: true });
    await waitFor(
      () => groups.every((g) => got.get(g)!.some((m) => m.id === id)),
      TIMEOUT,
      'both long-named groups',
    );
  });

  it('provision=false uses existing resources and creates none', async () => {
    const provisioning = await carrier();
    const readOnly = await carrier('provision=false');
    const topic = freshName('noprov');
    await provisioning.declare(topic, ['g']);
    const got: string[] = [];
    await readOnly.subscribe(topic, { group: 'g' }, (m) => {
      got.push(m.id);
    });
    const { id } = await readOnly.publish(topic, 'through existing resources');
    await waitFor(() => got.includes(id), TIMEOUT, 'the message through the existing topic and queue');
    // a group that does not exist is not created
    expect(await code(readOnly.subscribe(topic, { group: 'missing' }, () => {}))).toBe('INVALID_ARGUMENT');
    expect(await code(readOnly.publish(freshName('absent'), 'x'))).toBe('PUBLISH_FAILED');
  });

  it('dead letters read and given back (reader closed, connection closed) are readable again at once', async () => {
    const c = await carrier();
    const topic = freshName('dlq-again');
    await c.subscribe(topic, { group: 'g' }, () => {
      throw new NonRetryableError('no');
    });
    await c.publishBatch(
      topic,
      Array.from({ length: 5 }, (_, i) => ({ body: { i } })),
    );
    const first: DeadLetter[] = [];
    // more room than letters: a receive is in flight when the reader closes
    const reader = await c.deadLetters(topic, 'g').subscribe(
      (l) => {
        first.push(l);
        throw new Error('keep it');
      },
      { concurrency: 10 },
    );
    await waitFor(() => first.length >= 5, TIMEOUT, '5 dead letters');
    await reader.close();
    await c.close();
    // the visibility timeout is 15 s: reading them again well before proves nothing kept them
    const c2 = await carrier();
    const again = new Set<string>();
    const started = Date.now();
    await c2.deadLetters(topic, 'g').subscribe((l) => {
      again.add(l.message.id);
    });
    await waitFor(() => again.size >= 5, 10_000, 'the 5 dead letters again, before a visibility timeout');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
