import { type Carrier, connect, type Message } from '@carrier/core';
import { afterEach, describe, expect, it } from 'vitest';
import { Limiter, type OutboxRow, publishRows } from './publish-rows.js';

let carrier: Carrier | undefined;
afterEach(async () => {
  await carrier?.close();
});

let seq = 0;
function row(topic: string, key: string | null, text: string): OutboxRow {
  seq++;
  return {
    seq: String(seq),
    topic,
    message_id: `m-${seq}`,
    key,
    headers: { n: String(seq) },
    metadata: { correlationId: `c-${seq}`, deadline: '2031-02-03T04:05:06.007Z' as unknown as Date },
    content_type: 'text/plain; charset=utf-8',
    body: Buffer.from(text),
    published_at: new Date(),
  };
}

describe('publishing outbox rows', () => {
  it('publishes each row byte for byte with its id, key, headers and metadata, per key in seq order', async () => {
    carrier = await connect('memory://');
    const received: Message[] = [];
    await carrier.subscribe('rows', { group: 'g' }, (m) => {
      received.push(m);
    });
    const rows = [
      row('rows', 'a', 'a1'),
      row('rows', 'b', 'b1'),
      row('rows', 'a', 'a2'),
      row('rows', null, 'x'),
    ];
    const done = await publishRows(
      carrier,
      rows,
      new Limiter(4),
      () => true,
      () => {},
    );
    expect(done.error).toBeUndefined();
    expect([...done.confirmed].sort()).toEqual(rows.map((r) => r.seq).sort());
    const deadline = Date.now() + 5_000;
    while (received.length < rows.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(received).toHaveLength(rows.length);
    const a = received.filter((m) => m.key === 'a').map((m) => new TextDecoder().decode(m.raw));
    expect(a).toEqual(['a1', 'a2']);
    const first = received.find((m) => m.id === rows[0]!.message_id)!;
    expect(first.headers).toEqual(rows[0]!.headers);
    expect(first.contentType).toBe('text/plain; charset=utf-8');
    expect(first.metadata?.deadline?.toISOString()).toBe('2031-02-03T04:05:06.007Z');
  });

  it('stops a key at its first failure and keeps publishing the other keys', async () => {
    carrier = await connect('memory://');
    const bad = row('not a valid topic!', 'a', 'a1');
    const after = row('rows', 'a', 'a2');
    const other = row('rows', 'b', 'b1');
    const done = await publishRows(
      carrier,
      [bad, after, other],
      new Limiter(2),
      () => true,
      () => {},
    );
    expect(done.error?.row).toBe(bad);
    expect(done.confirmed).toEqual([other.seq]);
  });

  it('publishes nothing more once told to stop', async () => {
    carrier = await connect('memory://');
    const rows = [row('rows', 'a', '1'), row('rows', 'a', '2')];
    let calls = 0;
    const done = await publishRows(
      carrier,
      rows,
      new Limiter(1),
      () => calls++ < 1,
      () => {},
    );
    expect(done.confirmed).toEqual([rows[0]!.seq]);
  });
});
