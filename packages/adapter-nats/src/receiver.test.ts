import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Pulled, Receiver, type ReceiverOptions } from './receiver.js';

type Callback = (err: Error | null, msg: Msg) => void;

interface Request {
  readonly subject: string;
  readonly batch: number;
  readonly inbox: string;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** A fake connection: records pull requests, delivers to their inboxes on demand. */
function fakeConnection() {
  const inboxes = new Map<string, Callback>();
  const requests: Request[] = [];
  const drained: string[] = [];
  const nc = {
    isClosed: () => false,
    subscribe: (inbox: string, opts: { callback: Callback }) => {
      inboxes.set(inbox, opts.callback);
      return {
        unsubscribe: () => inboxes.delete(inbox),
        drain: async () => {
          drained.push(inbox);
        },
      };
    },
    publish: (subject: string, data: string, opts: { reply: string }) => {
      requests.push({ subject, batch: JSON.parse(data).batch, inbox: opts.reply });
    },
  } as unknown as NatsConnection;
  return { nc, inboxes, requests, drained };
}

/** A pulled message whose acks are recorded. */
function message(seq: number) {
  const responses: string[] = [];
  const msg = {
    reply: `$JS.ACK.S.c.1.${seq}.${seq}.1700000000000000000.0`,
    data: new Uint8Array(),
    respond: (payload: Uint8Array) => {
      responses.push(text(payload));
      return true;
    },
  } as unknown as Msg;
  return { msg, responses };
}

function status(code: number): Msg {
  return { reply: '', headers: { code }, data: new Uint8Array() } as unknown as Msg;
}

function setup(extra: Partial<ReceiverOptions> = {}) {
  const conn = fakeConnection();
  const pulled: Pulled[] = [];
  const receiver = new Receiver({
    nc: conn.nc,
    stream: 'S',
    consumer: 'c',
    prefetch: 3,
    progressEveryMs: 100,
    connected: () => true,
    onMessage: (p) => pulled.push(p),
    ...extra,
  });
  const deliver = (request: Request, msg: Msg) => conn.inboxes.get(request.inbox)?.(null, msg);
  return { ...conn, receiver, pulled, deliver };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

let receivers: Receiver[] = [];
afterEach(() => {
  for (const r of receivers) r.abandon();
  receivers = [];
  vi.useRealTimers();
});

describe('Receiver', () => {
  it('asks for exactly as many messages as it has free slots, one request at a time', async () => {
    const s = setup();
    receivers.push(s.receiver);
    s.receiver.pump();
    s.receiver.pump();
    expect(s.requests).toEqual([
      { subject: '$JS.API.CONSUMER.MSG.NEXT.S.c', batch: 3, inbox: expect.any(String) },
    ]);
    for (const seq of [1, 2, 3]) s.deliver(s.requests[0]!, message(seq).msg);
    await tick();
    expect(s.pulled).toHaveLength(3);
    expect(s.requests).toHaveLength(1); // every slot is taken
    s.pulled[0]!.done();
    s.pulled[0]!.done(); // idempotent
    await tick();
    expect(s.requests.map((r) => r.batch)).toEqual([3, 1]);
  });

  it('reports each pull request to onReceive: its messages are handed over inside handOut, end() gets the count; a failed empty request ends with an error', async () => {
    const log: string[] = [];
    let inHandOut = false;
    const s = setup({
      onReceive: () => ({
        handOut: <T>(handOut: () => T): T => {
          inHandOut = true;
          try {
            return handOut();
          } finally {
            inHandOut = false;
          }
        },
        end: (count: number, error?: unknown) => log.push(`end ${count}${error ? ' failed' : ''}`),
      }),
      onMessage: (p) => {
        log.push(`message in handOut ${inHandOut}`);
        expect(p.receive).toBeDefined();
      },
    });
    receivers.push(s.receiver);
    s.receiver.pump();
    s.deliver(s.requests[0]!, message(1).msg);
    s.deliver(s.requests[0]!, message(2).msg);
    s.deliver(s.requests[0]!, status(408));
    await tick();
    expect(log).toEqual(['message in handOut true', 'message in handOut true', 'end 2']);
    s.deliver(s.requests[1]!, status(409));
    expect(log.at(-1)).toBe('end 0 failed');
  });

  it('a request the server ended (404) is replaced at once; the ended inbox is unsubscribed', async () => {
    const s = setup();
    receivers.push(s.receiver);
    s.receiver.pump();
    s.deliver(s.requests[0]!, message(1).msg);
    s.deliver(s.requests[0]!, status(404));
    await tick();
    expect(s.requests.map((r) => r.batch)).toEqual([3, 2]);
    expect(s.inboxes.has(s.requests[0]!.inbox)).toBe(false);
  });

  it('heartbeats (100) keep a request alive and hand nothing over', async () => {
    const s = setup();
    receivers.push(s.receiver);
    s.receiver.pump();
    s.deliver(s.requests[0]!, status(100));
    await tick();
    expect(s.pulled).toEqual([]);
    expect(s.requests).toHaveLength(1);
  });

  it('stop() keeps the open request until the server ends it: a message arriving for it meanwhile is given back, not handed over, and close() waits for the end', async () => {
    const givenBack: Msg[] = [];
    const s = setup({ giveBack: async (m) => void givenBack.push(m) });
    receivers.push(s.receiver);
    s.receiver.pump();
    const request = s.requests[0]!;
    s.receiver.stop();
    // unsubscribing now could lose a message the server is sending, which it counts as a delivery
    expect(s.inboxes.has(request.inbox)).toBe(true);
    expect(s.drained).toEqual([]);
    const late = message(7);
    s.deliver(request, late.msg);
    await tick();
    expect(s.pulled).toEqual([]);
    expect(givenBack).toEqual([late.msg]);
    let closed = false;
    const closing = s.receiver.close().then(() => {
      closed = true;
    });
    await tick();
    expect(closed).toBe(false);
    s.deliver(request, status(408)); // the request expired at the server: nothing more can come
    await closing;
    expect(s.inboxes.has(request.inbox)).toBe(false);
    expect(s.requests).toHaveLength(1);
  });

  it('close() gives up on a request the server never ends (a silent connection), within its bound', async () => {
    vi.useFakeTimers();
    const s = setup();
    s.receiver.pump();
    const request = s.requests[0]!;
    const closing = s.receiver.close();
    await vi.advanceTimersByTimeAsync(10_000);
    await closing;
    expect(s.inboxes.has(request.inbox) && !s.drained.includes(request.inbox)).toBe(false);
  });

  it('without a giveBack of its own, a late message is given back with -NAK', async () => {
    const s = setup();
    receivers.push(s.receiver);
    s.receiver.pump();
    s.receiver.stop();
    const late = message(7);
    s.deliver(s.requests[0]!, late.msg);
    await tick();
    expect(late.responses).toEqual(['-NAK']);
  });

  it('abandon(): nothing is given back (a crash stand-in)', async () => {
    const s = setup();
    s.receiver.pump();
    s.receiver.abandon();
    const late = message(7);
    s.deliver(s.requests[0]!, late.msg);
    await tick();
    expect(late.responses).toEqual([]);
  });

  it('held messages get +WPI; the server silent for longer than the lease (counted from when it was last heard) ends it, and the +WPI', async () => {
    vi.useFakeTimers();
    const lost = new Error('lease lost');
    const s = setup({ lease: { afterMs: 250, reason: () => lost, heardAt: () => 0 } });
    receivers.push(s.receiver);
    s.receiver.pump();
    const held = message(1);
    s.deliver(s.requests[0]!, held.msg);
    await vi.advanceTimersByTimeAsync(100);
    expect(held.responses).toEqual(['+WPI']);
    s.receiver.disconnected(); // last heard at 0 ms (the message): the lease ends at 250 ms
    await vi.advanceTimersByTimeAsync(140);
    expect(s.pulled[0]!.lease?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(20);
    expect(s.pulled[0]!.lease?.aborted).toBe(true);
    expect(s.pulled[0]!.lease?.reason).toBe(lost);
    const before = held.responses.length;
    await vi.advanceTimersByTimeAsync(500);
    expect(held.responses).toHaveLength(before);
  });

  it('a reconnect within the lease keeps it and asks again', async () => {
    vi.useFakeTimers();
    const s = setup({ lease: { afterMs: 250, reason: () => new Error('lost'), heardAt: () => 0 } });
    receivers.push(s.receiver);
    s.receiver.pump();
    s.deliver(s.requests[0]!, message(1).msg);
    s.receiver.disconnected();
    await vi.advanceTimersByTimeAsync(100);
    s.receiver.reconnected();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(s.pulled[0]!.lease?.aborted).toBe(false);
    expect(s.requests.length).toBeGreaterThanOrEqual(2);
  });
});
