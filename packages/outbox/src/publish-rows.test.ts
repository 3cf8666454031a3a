import { type Carrier, connect, type Message } from '@carrier/core';
import { afterEach, describe, expect, it } from 'vitest';
import { isPermanentPublishError, Limiter, type OutboxRow, publishRows } from './publish-rows.js';

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

  it('sets aside a row the broker can never accept and goes on with its key and the other keys', async () => {
    carrier = await connect('memory://?maxMessageBytes=1000');
    const received: Message[] = [];
    await carrier.subscribe('rows', { group: 'g' }, (m) => {
      received.push(m);
    });
    const badName = row('not a valid topic!', 'a', 'a1');
    const tooLarge = row('rows', 'a', 'x'.repeat(2000));
    const after = row('rows', 'a', 'a3');
    const other = row('rows', 'b', 'b1');
    const done = await publishRows(
      carrier,
      [badName, tooLarge, after, other],
      new Limiter(2),
      () => true,
      () => {},
    );
    expect(done.error).toBeUndefined();
    expect(done.rejected.map((r) => [r.row, r.cause.code])).toEqual([
      [badName, 'INVALID_NAME'],
      [tooLarge, 'MESSAGE_TOO_LARGE'],
    ]);
    expect([...done.confirmed].sort()).toEqual([after.seq, other.seq].sort());
  });

  it('stops a key at a transient failure and keeps its rows', async () => {
    carrier = await connect('memory://');
    await carrier.close();
    const first = row('rows', 'a', 'a1');
    const second = row('rows', 'a', 'a2');
    const done = await publishRows(
      carrier,
      [first, second],
      new Limiter(2),
      () => true,
      () => {},
    );
    expect(done.error?.row).toBe(first);
    expect(isPermanentPublishError(done.error?.cause)).toBe(false);
    expect(done.rejected).toEqual([]);
    expect(done.confirmed).toEqual([]);
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
