import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freshName, gate, waitFor } from '@carrier/contract';
import { type Carrier, CarrierError, type Delivery, type Transport, type WireMessage } from '@carrier/core';
import { expect } from 'vitest';
import type { TcpProxy } from '../src/proxy.js';

// A consumer in its own process at the transport SPI level, so that it can really be killed with
// SIGKILL while it holds a delivery. It runs the adapter's TypeScript sources (tsx, export condition
// `carrier-source`), so no build is needed. It prints `attempt <n> <id>` for each delivery and never
// settles anything.

const cwd = fileURLToPath(new URL('..', import.meta.url));

const HOLDER = `
const { createTransport } = await import(process.env.ADAPTER);
const t = await createTransport(new URL(process.env.URL), { onError: () => {} });
await t.subscribe(process.env.TOPIC, process.env.GROUP, { prefetch: 1, ordered: process.env.ORDERED === '1' }, (d) => {
  process.stdout.write('attempt ' + d.attempt + ' ' + d.message.id + '\\n');
});
process.stdout.write('ready\\n');
`;

export interface Holder {
  readonly child: ChildProcess;
  /** The first delivery the child got. */
  readonly first: Promise<{ attempt: number; id: string }>;
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
}

/**
 * Start a child that subscribes `group` of `topic` through `adapter` (package name) and holds what
 * it gets; `ordered` subscribes with `ordered: true`.
 */
export function spawnHolder(
  adapter: string,
  url: string,
  topic: string,
  group: string,
  ordered = false,
): Holder {
  const child = spawn(
    process.execPath,
    ['--conditions=carrier-source', '--import', 'tsx', '--input-type=module', '-e', HOLDER],
    {
      cwd,
      env: {
        ...process.env,
        ADAPTER: adapter,
        URL: url,
        TOPIC: topic,
        GROUP: group,
        ORDERED: ordered ? '1' : '0',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const first = new Promise<{ attempt: number; id: string }>((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`holder exited early (${code ?? signal})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [word, attempt, id] = line.split(' ');
      if (word === 'attempt') resolve({ attempt: Number(attempt), id: id ?? '' });
    });
  });
  first.catch(() => {});
  const kill = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  return { child, first, kill };
}

/** A WireMessage with a text body. */
export function wireMessage(id: string, text = id): WireMessage {
  return {
    id,
    headers: {},
    contentType: 'text/plain; charset=utf-8',
    body: new TextEncoder().encode(text),
    publishedAt: new Date(),
  };
}

/** Collects what a transport subscription hands over; `next()` waits for the next one (with a deadline). */
export class Inbox<D> {
  readonly items: D[] = [];
  #taken = 0;
  #wake: (() => void) | undefined;
  readonly sink = (d: D): void => {
    this.items.push(d);
    this.#wake?.();
  };

  async next(timeoutMs: number, what = 'a delivery'): Promise<D> {
    const deadline = Date.now() + timeoutMs;
    while (this.items.length <= this.#taken) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    return this.items[this.#taken++]!;
  }

  /** Nothing more arrives within `ms` (a bounded check for "no redelivery"). */
  async quietFor(ms: number): Promise<boolean> {
    const before = this.items.length;
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.items.length === before;
  }
}

/**
 * Closing a member gives back at once, with the same attempt, what it received and did not handle:
 * A (one handler at a time, prefetch 10) holds the first of 5 messages while its subscription
 * closes; B must get the other ones within 5 s (far less than any ack wait or visibility), each
 * with attempt 1. `a` and `b` are two connections to the same broker.
 */
export async function expectCloseGivesBack(a: Carrier, b: Carrier, prefix = 'handback'): Promise<void> {
  const topic = freshName(prefix);
  const hold = gate();
  const seenByA: string[] = [];
  const subA = await a.subscribe(topic, { group: 'g', concurrency: 1, prefetch: 10 }, async (m) => {
    seenByA.push(m.body as string);
    await hold.promise;
  });
  await a.publishBatch(
    topic,
    Array.from({ length: 5 }, (_, i) => ({ body: `m${i}` })),
  );
  await waitFor(() => seenByA.length === 1, 10_000, 'A to start on the first message');
  const closing = subA.close();
  hold.open();
  await closing;
  const seenByB = new Map<string, number>();
  const started = Date.now();
  await b.subscribe(topic, { group: 'g' }, (m) => {
    seenByB.set(m.body as string, m.attempt);
  });
  const expected = 5 - seenByA.length;
  await waitFor(() => seenByB.size >= expected, 5_000, `B to get the ${expected} messages A gave back`);
  expect(Date.now() - started).toBeLessThan(5_000);
  for (const attempt of seenByB.values()) expect(attempt).toBe(1);
}

/**
 * A delivery held by `t` (whose connection goes through `proxy`) while the proxy goes silent loses
 * its lease (aborted with LEASE_LOST within `leaseLostMs`), and once the proxy passes again it
 * comes back with attempt 2. `producer` is a direct connection to the same broker.
 */
export async function expectLeaseLostThenAttempt2(
  proxy: TcpProxy,
  t: Transport,
  producer: Transport,
  options: { prefetch: number; leaseLostMs: number },
): Promise<void> {
  const topic = freshName('lease');
  await producer.declare(topic, ['g']);
  const inbox = new Inbox<Delivery>();
  await t.subscribe(topic, 'g', { prefetch: options.prefetch, ordered: false }, inbox.sink);
  await producer.publish(topic, [wireMessage('held')]);
  const held = await inbox.next(10_000, 'the delivery');
  expect(held.lease?.aborted).toBe(false);
  proxy.setMode('blackhole');
  await waitFor(() => held.lease?.aborted === true, options.leaseLostMs, 'the lease to be lost');
  expect(held.lease?.reason).toBeInstanceOf(CarrierError);
  expect((held.lease!.reason as CarrierError).code).toBe('LEASE_LOST');
  proxy.setMode('pass');
  const again = await inbox.next(30_000, 'the redelivery after the reconnect');
  expect(again.message.id).toBe('held');
  expect(again.attempt).toBe(2);
  await again.ack();
}
