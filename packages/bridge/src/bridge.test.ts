import { randomBytes } from 'node:crypto';
import {
  type Carrier,
  CarrierError,
  connect,
  createMemoryTransport,
  type Message,
  type Transport,
  type TransportFactory,
} from '@carrier/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type Bridge, bridge } from './bridge.js';

const fresh = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const open: Array<{ close(): Promise<unknown> }> = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close().catch(() => undefined);
});

async function carrier(url: string): Promise<Carrier> {
  const c = await connect(url);
  open.push(c);
  return c;
}

function track(b: Bridge): Bridge {
  open.push({ close: () => b.stop() });
  return b;
}

/** Collect every delivery of `group` on `topic`. */
async function collect(c: Carrier, topic: string, group: string): Promise<Message[]> {
  const got: Message[] = [];
  await c.subscribe(topic, { group, concurrency: 64 }, (m) => {
    got.push(m);
  });
  return got;
}

/**
 * A memory target that stores every published message but holds the confirmation of every
 * publish after the first `confirmAfter` messages until `release()`.
 */
function gatedTarget(confirmAfter: number) {
  let published = 0;
  let held = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const factory: TransportFactory = async (url, options) => {
    const inner = await createMemoryTransport(url, options);
    const wrapped: Transport = {
      name: inner.name,
      capabilities: inner.capabilities,
      declare: (topic, groups) => inner.declare(topic, groups),
      publish: async (topic, messages) => {
        await inner.publish(topic, messages);
        published += messages.length;
        if (published > confirmAfter) {
          held += messages.length;
          await gate;
        }
      },
      subscribe: (topic, group, o, sink) => inner.subscribe(topic, group, o, sink),
      subscribeDeadLetters: (topic, group, o, sink) => inner.subscribeDeadLetters(topic, group, o, sink),
      redrive: (topic, group, max) => inner.redrive(topic, group, max),
      close: () => inner.close(),
      abort: () => inner.abort(),
    };
    return wrapped;
  };
  return { factory, held: () => held, release: () => open() };
}

describe('bridge on memory://', () => {
  it('moves body bytes, key, headers, metadata, id and content type unchanged, and settles the source', async () => {
    const [src, dst, topic] = [fresh('src'), fresh('dst'), fresh('orders')];
    const source = await carrier(`memory://${src}`);
    const target = await carrier(`memory://${dst}`);
    const received = await collect(target, topic, 'billing');
    const b = track(
      await bridge({ from: `memory://${src}`, to: `memory://${dst}`, topics: [topic], group: 'bridge' }),
    );
    const binary = new Uint8Array([0, 255, 1, 254, 10, 13]);
    const jsonWithUnknownFields = new TextEncoder().encode('{"id":1,  "futureField":{"x":[1,2]}}');
    const metadata = {
      correlationId: 'c-1',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      extra: { 'newer-field': 'kept' },
    };
    await source.publishBatch(topic, [
      { body: binary, id: 'm-binary', key: 'k1', headers: { tenant: 'acme', 'trace.id': 'abc' }, metadata },
      { body: jsonWithUnknownFields, contentType: 'application/json', id: 'm-json' },
      { body: 'hé', id: 'm-text', key: '' },
    ]);
    await waitFor(() => received.length === 3, 5_000, 'three copies');
    const byId = new Map(received.map((m) => [m.id, m]));
    expect(byId.get('m-binary')?.raw).toEqual(binary);
    expect(byId.get('m-binary')?.key).toBe('k1');
    expect(byId.get('m-binary')?.headers).toEqual({ tenant: 'acme', 'trace.id': 'abc' });
    expect(byId.get('m-binary')?.metadata).toEqual(metadata);
    expect(byId.get('m-json')?.metadata).toEqual({});
    expect(byId.get('m-binary')?.contentType).toBe('application/octet-stream');
    expect(byId.get('m-json')?.raw).toEqual(jsonWithUnknownFields); // spacing kept: never re-encoded
    expect(byId.get('m-json')?.contentType).toBe('application/json');
    expect(byId.get('m-text')?.body).toBe('hé');
    expect(byId.get('m-text')?.key).toBe('');
    expect(byId.get('m-text')?.contentType).toBe('text/plain; charset=utf-8');
    await waitFor(() => b.progress().moved === 3 && b.progress().inFlight === 0, 5_000, 'progress');
    const final = await b.stop();
    expect(final).toMatchObject({ moved: 3, deadLettered: 0, state: 'stopped' });
    expect(final.topics).toEqual([{ from: topic, to: topic, moved: 3, deadLettered: 0 }]);
    // the source was settled: a new bridge with the same group moves nothing again
    const again = track(
      await bridge({ from: `memory://${src}`, to: `memory://${dst}`, topics: [topic], group: 'bridge' }),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(again.progress().moved).toBe(0);
    expect(received).toHaveLength(3);
  });

  it('renames topics with FROM:TO and reports progress periodically', async () => {
    const [src, dst, a, b2] = [fresh('src'), fresh('dst'), fresh('a'), fresh('b')];
    const source = await carrier(`memory://${src}`);
    const target = await carrier(`memory://${dst}`);
    const received = await collect(target, b2, 'g');
    const snapshots: number[] = [];
    const b = track(
      await bridge({
        from: `memory://${src}`,
        to: `memory://${dst}`,
        topics: [`${a}:${b2}`],
        group: 'bridge',
        progressIntervalMs: 20,
        onProgress: (p) => snapshots.push(p.moved),
      }),
    );
    await source.publishBatch(
      a,
      Array.from({ length: 50 }, (_, i) => ({ body: { i } })),
    );
    await waitFor(() => received.length === 50, 5_000, 'fifty copies');
    await waitFor(() => snapshots.some((n) => n === 50), 5_000, 'a progress snapshot with 50 moved');
    const p = b.progress();
    expect(p.lagMs).toBeGreaterThanOrEqual(0);
    expect(p.topics).toEqual([{ from: a, to: b2, moved: 50, deadLettered: 0 }]);
  });

  it('dead-letters, with the reason, a native message whose headers core cannot republish; never drops it', async () => {
    const [src, dst, topic] = [fresh('src'), fresh('dst'), fresh('t')];
    const source = await carrier(`memory://${src}`);
    const target = await carrier(`memory://${dst}`);
    const received = await collect(target, topic, 'g');
    const deadLetters: string[] = [];
    const b = track(
      await bridge({
        from: `memory://${src}`,
        to: `memory://${dst}`,
        topics: [topic],
        group: 'bridge',
        onDeadLetter: (e) => deadLetters.push(e.id),
      }),
    );
    // a native producer (no Carrier validation) wrote headers outside the portable grammar
    const raw = await createMemoryTransport(new URL(`memory://${src}`), {
      onError: () => undefined,
      connectTimeoutMs: 10_000,
    });
    const base = { contentType: 'text/plain', body: new TextEncoder().encode('x'), publishedAt: new Date() };
    await raw.publish(topic, [
      { ...base, id: 'bad-space', headers: { 'has\nnewline': '1' } },
      { ...base, id: 'bad-reserved', headers: { 'carrier-attempt': '3' } },
      { ...base, id: 'good', headers: { ok: '1' } },
    ]);
    await waitFor(
      () => received.length === 1 && deadLetters.length === 2,
      5_000,
      'one copy, two dead letters',
    );
    expect(received[0]?.id).toBe('good');
    const letters: Array<{ id: string; reason: string; headers: Record<string, string> }> = [];
    await source.deadLetters(topic, 'bridge').subscribe((l) => {
      letters.push({ id: l.message.id, reason: l.reason, headers: { ...l.message.headers } });
    });
    await waitFor(() => letters.length === 2, 5_000, 'two dead letters on the source');
    const byId = new Map(letters.map((l) => [l.id, l]));
    expect(byId.get('bad-space')?.reason).toMatch(
      /cannot republish to memory topic .*"has\\nnewline" contains CR, LF or NUL/,
    );
    expect(byId.get('bad-space')?.headers).toEqual({ 'has\nnewline': '1' });
    expect(byId.get('bad-reserved')?.reason).toMatch(/reserved prefix 'carrier-'/);
    expect(b.progress()).toMatchObject({ moved: 1, deadLettered: 2 });
    await raw.close();
  });

  it('dead-letters a message larger than the target accepts, and moves the rest of its batch', async () => {
    const [src, dst, topic] = [fresh('src'), fresh('dst'), fresh('t')];
    const source = await carrier(`memory://${src}`);
    const target = await carrier(`memory://${dst}?maxMessageBytes=100`);
    const received = await collect(target, topic, 'g');
    const deadLetters: string[] = [];
    track(
      await bridge({
        from: `memory://${src}`,
        to: `memory://${dst}?maxMessageBytes=100`,
        topics: [topic],
        group: 'bridge',
        onDeadLetter: (e) => deadLetters.push(e.reason),
      }),
    );
    await source.publishBatch(topic, [
      { body: 'small-1' },
      { body: 'x'.repeat(500), id: 'big' },
      { body: 'small-2' },
    ]);
    await waitFor(
      () => received.length === 2 && deadLetters.length === 1,
      5_000,
      'two copies and one dead letter',
    );
    expect(deadLetters[0]).toMatch(/500 bytes exceeds the target's limit of 100/);
  });

  it('a clean stop finishes in-flight work: nothing lost, nothing copied twice, the rest resumes', async () => {
    const [src, dst, topic] = [fresh('src'), fresh('dst'), fresh('t')];
    const total = 2_000;
    const source = await carrier(`memory://${src}`);
    const target = await carrier(`memory://${dst}`);
    const received = await collect(target, topic, 'g');
    await source.declare(topic, ['bridge']);
    await source.publishBatch(
      topic,
      Array.from({ length: total }, (_, i) => ({ body: { i }, id: `m${i}`, key: `k${i % 7}` })),
    );
    const gated = gatedTarget(300);
    const options = {
      from: `memory://${src}`,
      to: `memory://${dst}`,
      topics: [topic],
      group: 'bridge',
      concurrency: 16,
      maxBatch: 4,
    };
    const first = await bridge({ ...options, transports: { to: gated.factory } });
    await waitFor(() => gated.held() > 0, 10_000, 'publishes held by the target');
    expect(first.progress().inFlight).toBeGreaterThan(0);
    const stopping = first.stop();
    gated.release(); // the target confirms what was in flight; stop waits for it
    const stopped = await stopping;
    expect(stopped.inFlight).toBe(0);
    expect(stopped.moved).toBeLessThan(total);
    await waitFor(() => received.length === stopped.moved, 5_000, 'copies of what moved');
    const second = track(await bridge(options));
    await waitFor(() => received.length >= total, 20_000, 'every message');
    await second.stop();
    const ids = received.map((m) => m.id);
    expect(new Set(ids).size).toBe(total);
    expect(ids).toHaveLength(total); // a clean stop copies nothing twice
  });

  it('a crash (abort) while the target holds confirmations loses nothing; redelivered copies are duplicates', async () => {
    const [src, dst, topic] = [fresh('src'), fresh('dst'), fresh('t')];
    const total = 2_000;
    const source = await carrier(`memory://${src}`);
    const target = await carrier(`memory://${dst}`);
    const received = await collect(target, topic, 'g');
    const options = {
      from: `memory://${src}`,
      to: `memory://${dst}`,
      topics: [topic],
      group: 'bridge',
      concurrency: 16,
      maxBatch: 4,
    };
    await source.declare(topic, ['bridge']);
    await source.publishBatch(
      topic,
      Array.from({ length: total }, (_, i) => ({ body: { i }, id: `m${i}` })),
    );
    for (const after of [200, 700]) {
      // the target stores each message but never confirms those after `after`: the crash comes
      // between the target's write and the source's acknowledgement
      const gated = gatedTarget(after);
      const crashing = await bridge({ ...options, transports: { to: gated.factory } });
      await waitFor(() => gated.held() > 0, 10_000, 'unconfirmed publishes');
      await crashing.abort();
    }
    const last = track(await bridge(options));
    await waitFor(() => new Set(received.map((m) => m.id)).size === total, 20_000, 'every id on the target');
    await last.stop();
    expect(received.length).toBeGreaterThan(total); // the unconfirmed copies came again
  });

  it('while the target is down it holds and retries (nothing skipped, nothing dead-lettered); stop gives back', async () => {
    const [src, dst, topic] = [fresh('src'), fresh('dst'), fresh('t')];
    const source = await carrier(`memory://${src}`);
    const target = await carrier(`memory://${dst}`);
    const received = await collect(target, topic, 'g');
    let down = true;
    const flaky: TransportFactory = async (url, options) => {
      const inner = await createMemoryTransport(url, options);
      return {
        name: inner.name,
        capabilities: inner.capabilities,
        declare: (t, groups) => inner.declare(t, groups),
        publish: async (t, messages) => {
          if (down) throw new CarrierError('CONNECTION', 'target unreachable', { transport: 'memory' });
          await inner.publish(t, messages);
        },
        subscribe: (t, group, o, sink) => inner.subscribe(t, group, o, sink),
        subscribeDeadLetters: (t, group, o, sink) => inner.subscribeDeadLetters(t, group, o, sink),
        redrive: (t, group, max) => inner.redrive(t, group, max),
        close: () => inner.close(),
        abort: () => inner.abort(),
      };
    };
    const options = {
      from: `memory://${src}`,
      to: `memory://${dst}`,
      topics: [topic],
      group: 'bridge',
      concurrency: 8,
    };
    const errors: string[] = [];
    const first = await bridge({
      ...options,
      transports: { to: flaky },
      onError: (e) => errors.push(e.message),
    });
    await source.publishBatch(
      topic,
      Array.from({ length: 20 }, (_, i) => ({ body: { i }, id: `m${i}` })),
    );
    await waitFor(() => first.progress().publishErrors >= 16, 10_000, 'failed publishes being retried');
    expect(first.progress()).toMatchObject({ moved: 0, deadLettered: 0, inFlight: 8 });
    expect(errors[0]).toMatch(/publishing m\d+ to .* failed; retrying/);
    // a stop during the outage ends promptly: the held messages go back to the source group
    const stopped = await first.stop();
    expect(stopped).toMatchObject({ moved: 0, deadLettered: 0, inFlight: 0 });
    down = false;
    const second = track(await bridge({ ...options, transports: { to: flaky } }));
    await waitFor(
      () => new Set(received.map((m) => m.id)).size === 20,
      10_000,
      'all twenty once the target is back',
    );
    expect(second.progress().deadLettered).toBe(0);
  });

  it('rejects bad options before connecting', async () => {
    await expect(
      bridge({ from: 'memory://', to: 'memory://', topics: [], group: 'g' }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(
      bridge({ from: 'memory://', to: 'memory://', topics: ['a b'], group: 'g' }),
    ).rejects.toMatchObject({
      code: 'INVALID_NAME',
    });
    await expect(
      bridge({ from: 'memory://', to: 'memory://', topics: ['a'], group: 'g', verifyGroup: 'g' }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(
      bridge({ from: 'nope://x', to: 'memory://', topics: ['a'], group: 'g' }),
    ).rejects.toMatchObject({
      code: 'UNSUPPORTED',
    });
  });

  it('fromBeginning on a source that keeps no history is refused with a clear UNSUPPORTED', async () => {
    const options = { to: 'memory://', topics: [fresh('t')], group: 'g', fromBeginning: true };
    const error = await bridge({ ...options, from: `memory://${fresh('nohistory')}` }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CarrierError);
    expect(error).toMatchObject({ code: 'UNSUPPORTED' });
    expect(String(error)).toMatch(/--from-beginning: the source \(memory\) keeps no history/);
  });
});
