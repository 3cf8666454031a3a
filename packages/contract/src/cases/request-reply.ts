import type { Carrier, Message, TransportFactory, WireMessage } from '@carrier/core';
import { expect } from 'vitest';
import type { ContractCase } from '../case.js';
import { expectCode } from '../expect-code.js';
import { freshName, gate } from '../support.js';

const theme = 'request/reply';

/** A server: group `server` of `topic` answers `{ echo: body }` with header `served: yes`. */
async function echoServer(c: Carrier, topic: string, seen: Message[] = [], concurrency = 8) {
  return c.subscribe(topic, { group: 'server', concurrency }, async (m) => {
    seen.push(m);
    await m.reply({ echo: m.body }, { headers: { served: 'yes' } });
  });
}

/** A transport factory whose reply destinations count the replies they hand over. */
function countingReplies(counter: { replies: number }) {
  return (factory: TransportFactory): TransportFactory =>
    async (url, options) => {
      const transport = await factory(url, options);
      const open = transport.openReplies?.bind(transport);
      if (!open) return transport;
      transport.openReplies = (sink: (reply: WireMessage) => void) =>
        open((reply) => {
          counter.replies += 1;
          sink(reply);
        });
      return transport;
    };
}

export const requestRoundTrip: ContractCase = {
  name: 'request/reply: a request gets its reply; groups that only observe do not interfere',
  theme,
  needs: ['requestReply'],
  async run({ carrier, until }) {
    const [server, client] = [await carrier(), await carrier()];
    const topic = freshName('rr');
    const seen: Message[] = [];
    await echoServer(server, topic, seen);
    const observed: Message[] = [];
    // a second group needs fan-out (SQS queue-only mode has one group per topic)
    const fanOut = server.capabilities.fanOut;
    if (fanOut)
      await server.subscribe(topic, { group: 'audit' }, (m) => {
        observed.push(m);
      });
    const before = Date.now();
    const reply = await client.request(
      topic,
      { sku: 'sku-1', qty: 2 },
      {
        key: 'customer-7',
        headers: { tenant: 'acme' },
        timeoutMs: 15_000,
      },
    );
    expect(reply.body).toEqual({ echo: { sku: 'sku-1', qty: 2 } });
    expect(reply.headers.served).toBe('yes');
    const request = seen[0]!;
    expect(request.key).toBe('customer-7');
    expect(request.headers.tenant).toBe('acme');
    expect(request.metadata.replyTo, 'the reply address travels as metadata').toBeTruthy();
    expect(reply.metadata.correlationId, 'the reply carries the correlation id').toBe(
      request.metadata.correlationId,
    );
    const deadline = request.metadata.deadline?.getTime() ?? 0;
    expect(deadline, 'the request carries its deadline').toBeGreaterThanOrEqual(before + 15_000 - 5);
    if (fanOut) await until(() => observed.length === 1, 'the observing group to see the request');
    await expectCode(reply.reply('no'), 'INVALID_ARGUMENT');
    await expectCode(server.request(topic, 'x', { metadata: { replyTo: 'mine' } }), 'INVALID_ARGUMENT');
    await expectCode(server.request(topic, 'x', { timeoutMs: 0 }), 'INVALID_ARGUMENT');
    const plainTopic = freshName('plain');
    const refusals: unknown[] = [];
    await server.subscribe(plainTopic, { group: 'g' }, async (m) => {
      refusals.push(await m.reply('no').catch((e: unknown) => e));
    });
    await client.publish(plainTopic, 'not a request');
    await until(() => refusals.length === 1, 'the handler of a plain message to try a reply');
    expect((refusals[0] as { code?: string }).code, 'reply to a message that is not a request').toBe(
      'INVALID_ARGUMENT',
    );
  },
};

/** `perClient` requests from `client`, each answered with its own echo. */
async function requestsFrom(client: Carrier, topic: string, name: string, perClient: number) {
  const replies = await Promise.all(
    Array.from({ length: perClient }, (_, n) =>
      client.request(topic, { from: name, n }, { timeoutMs: 30_000 }).then((r) => ({ n, body: r.body })),
    ),
  );
  for (const { n, body } of replies)
    expect(body, `reply to ${name} #${n}`).toEqual({ echo: { from: name, n } });
}

export const concurrentRequests: ContractCase = {
  name: 'request/reply: 200 concurrent requests from two connections each get their own reply',
  theme,
  needs: ['requestReply'],
  async run({ carrier }) {
    const server = await carrier();
    const topic = freshName('rr-many');
    await echoServer(server, topic, [], 32);
    const [a, b] = [await carrier(), await carrier()];
    await Promise.all([requestsFrom(a, topic, 'a', 100), requestsFrom(b, topic, 'b', 100)]);
  },
};

/** A server whose replies wait for `held.open()`; `replied` collects each reply's outcome. */
async function heldServer(c: Carrier, topic: string) {
  const held = gate();
  const handled: string[] = [];
  const replied: unknown[] = [];
  await c.subscribe(topic, { group: 'server', concurrency: 4 }, async (m) => {
    handled.push(m.id);
    const body = m.body as { hold?: boolean };
    if (body.hold) await held.promise;
    replied.push(
      await m.reply({ echo: m.body }).then(
        () => 'ok',
        (e: unknown) => e,
      ),
    );
  });
  return { held, handled, replied };
}

export const requestTimeout: ContractCase = {
  name: 'request/reply: no reply in time rejects with TIMEOUT; the late reply is dropped, and so is a reply to a closed requester',
  theme,
  needs: ['requestReply', 'url'],
  async run({ carrier, carrierWrapped, until }) {
    const server = await carrier();
    const topic = freshName('rr-late');
    const { held, handled, replied } = await heldServer(server, topic);
    const counter = { replies: 0 };
    const client = await carrierWrapped(countingReplies(counter));
    const started = Date.now();
    const timingOut = expectCode(
      client.request(topic, { hold: true, n: 1 }, { timeoutMs: 4_000, id: freshName('late') }),
      'TIMEOUT',
    );
    // the server must take the request before its deadline: one it receives expired is settled
    // without running the handler (nobody waits for its reply), and there would be no late reply
    // (seen on SQS FIFO, moto, when a receive took over the old 1 s deadline)
    await until(() => handled.length === 1, 'the server to take the request before its deadline');
    await timingOut;
    const waited = Date.now() - started;
    expect(waited, 'ms waited before TIMEOUT').toBeGreaterThanOrEqual(3_990);
    expect(waited, 'ms waited before TIMEOUT').toBeLessThan(9_000);
    held.open();
    await until(() => counter.replies === 1, 'the late reply to reach the reply destination');
    // the requester may receive the reply before the server's send call returns (SQS on a loaded moto)
    await until(() => replied.length === 1, "the server's reply call to return");
    expect(replied, 'the late reply was sent without error').toEqual(['ok']);
    const next = await client.request(topic, { n: 2 }, { timeoutMs: 15_000 });
    expect(next.body, 'the next request gets its own reply, not the late one').toEqual({ echo: { n: 2 } });
    expect(handled.length, 'each request handled once').toBe(2);
    // a requester that is gone: the server's reply is dropped, not an error
    const goneTopic = freshName('rr-gone');
    const second = await heldServer(server, goneTopic);
    const gone = await carrier();
    const waiting = gone.request(goneTopic, { hold: true }, { timeoutMs: 30_000 });
    const closed = expectCode(waiting, 'CLOSED');
    await until(() => second.handled.length === 1, 'the server to take the request');
    await gone.close();
    await closed;
    second.held.open();
    await until(() => second.replied.length === 1, 'the reply to the closed requester');
    expect(second.replied, 'a reply to a requester that is gone is not an error').toEqual(['ok']);
  },
};

export const requestHandlerFails: ContractCase = {
  name: 'request/reply: a handler that throws answers REQUEST_FAILED with its reason, at once, without retries',
  theme,
  needs: ['requestReply'],
  async run({ carrier, until }) {
    const server = await carrier();
    const topic = freshName('rr-fail');
    const runs = new Map<string, number>();
    await server.subscribe(topic, { group: 'server', concurrency: 4 }, async (m) => {
      runs.set(m.id, (runs.get(m.id) ?? 0) + 1);
      const body = m.body as { fail?: string };
      if (body.fail) throw new Error(body.fail);
      await m.reply('fine');
    });
    const client = await carrier();
    const started = Date.now();
    const failing = freshName('fails');
    const error = await expectCode(
      client.request(topic, { fail: 'out of stock:\nsku-9' }, { timeoutMs: 20_000, id: failing }),
      'REQUEST_FAILED',
    );
    expect(error.message).toContain('out of stock');
    expect(error.message).toContain('sku-9');
    expect(Date.now() - started, 'ms until REQUEST_FAILED (not a timeout)').toBeLessThan(10_000);
    const fine = await client.request(topic, {}, { timeoutMs: 20_000 });
    expect(fine.body).toBe('fine');
    expect(runs.get(failing), 'the failed request ran once: requests are not retried').toBe(1);
    const letters: string[] = [];
    await server.deadLetters(topic, 'server').subscribe((l) => {
      letters.push(l.message.id);
    });
    await until(() => letters.includes(failing), 'the failed request among the dead letters');
    // retryRequests: true retries a request as any message; it succeeds on its second attempt
    const retried = freshName('rr-retried');
    await server.subscribe(
      retried,
      { group: 'server', retryRequests: true, retry: { initialDelayMs: 50, maxDelayMs: 50 } },
      async (m) => {
        if (m.attempt === 1) throw new Error('not yet');
        await m.reply(`attempt ${m.attempt}`);
      },
    );
    expect((await client.request(retried, {}, { timeoutMs: 20_000 })).body).toBe('attempt 2');
  },
};

export const expiredRequestSkipped: ContractCase = {
  name: 'request/reply: a server never runs the handler of a request whose deadline has passed',
  theme,
  needs: ['requestReply'],
  async run({ carrier }) {
    const client = await carrier();
    const topic = freshName('rr-expired');
    await client.declare(topic, ['server']);
    const expired = freshName('expired');
    await expectCode(client.request(topic, { n: 1 }, { timeoutMs: 300, id: expired }), 'TIMEOUT');
    const server = await carrier();
    const seen: Message[] = [];
    await echoServer(server, topic, seen);
    const reply = await client.request(topic, { n: 2 }, { timeoutMs: 20_000 });
    expect(reply.body).toEqual({ echo: { n: 2 } });
    expect(
      seen.map((m) => m.id),
      'the expired request reached the handler',
    ).not.toContain(expired);
  },
};

export const requestUnsupported: ContractCase = {
  name: 'request/reply: refused with UNSUPPORTED where the transport has none',
  theme,
  async run({ carrier, skip }) {
    const c = await carrier();
    skip(c.capabilities.requestReply === true, 'the transport has request/reply (capabilities.requestReply)');
    await expectCode(c.request(freshName('rr-none'), 'x', { timeoutMs: 1_000 }), 'UNSUPPORTED');
  },
};
