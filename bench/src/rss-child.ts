/**
 * Child process of the memory-boundedness figure (run by rss.ts, one process per mode so that each
 * peak RSS is its own): a publisher feeds `messages` messages at ten times the rate the consumer's
 * handler can take them, on `memory://` in this process.
 *
 *   mode carrier: Carrier consumer (concurrency C, prefetch P) with the slow handler;
 *   mode raw:     the memory transport's SPI consumer with the same prefetch and handler;
 *   mode backlog: no consumer at all (the broker's own storage of the backlog: the floor).
 *
 * Prints one JSON line: peak RSS, heap, deliveries handed to the consumer and not yet settled at
 * most (the prefetch bound, observed at the SPI), messages handled.
 */
import { parseArgs } from 'node:util';
import {
  type Carrier,
  connect,
  createMemoryTransport,
  type Delivery,
  type Transport,
  type TransportSubscribeOptions,
} from '@carrier/core';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'carrier' },
    messages: { type: 'string', default: '100000' },
    size: { type: 'string', default: '1024' },
    concurrency: { type: 'string', default: '8' },
    prefetch: { type: 'string', default: '16' },
    'handler-ms': { type: 'string', default: '8' },
  },
});
const mode = values.mode!;
const messages = Number(values.messages);
const size = Number(values.size);
const concurrency = Number(values.concurrency);
const prefetch = Number(values.prefetch);
const handlerMs = Number(values['handler-ms']);
const handlerRate = (concurrency * 1000) / handlerMs;
const publishRate = handlerRate * 10;

let outstanding = 0;
let maxOutstanding = 0;
let handled = 0;

/** Counts deliveries between the transport handing them over and their settlement. */
function observed(transport: Transport): Transport {
  const subscribe = transport.subscribe.bind(transport);
  transport.subscribe = (
    topic: string,
    group: string,
    options: TransportSubscribeOptions,
    sink: (d: Delivery) => void,
  ) =>
    subscribe(topic, group, options, (d) => {
      outstanding++;
      if (outstanding > maxOutstanding) maxOutstanding = outstanding;
      const settled =
        <A extends unknown[]>(f: (...a: A) => Promise<void>) =>
        (...a: A) => {
          outstanding--;
          return f(...a);
        };
      sink({
        message: d.message,
        attempt: d.attempt,
        ack: settled(() => d.ack()),
        retry: settled((ms: number) => d.retry(ms)),
        deadLetter: settled((info) => d.deadLetter(info)),
        release: settled(() => d.release()),
      });
    });
  return transport;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const slowHandler = async () => {
  await sleep(handlerMs);
  handled++;
};

let peakRss = process.memoryUsage.rss();
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 20);

const onError = (e: Error) => process.stderr.write(`${e.message}\n`);
const transport = observed(
  await createMemoryTransport(new URL('memory://rss'), { onError, connectTimeoutMs: 10_000 }),
);
const topic = 'rss';
const group = 'slow';
await transport.declare(topic, [group]);
let carrier: Carrier | undefined;
let stop: () => Promise<void> = async () => {};
if (mode === 'carrier') {
  carrier = await connect('memory://rss', { onError, transport: async () => transport });
  const sub = await carrier.subscribe(topic, { group, concurrency, prefetch }, slowHandler);
  stop = () => sub.close();
} else if (mode === 'raw') {
  let running = 0;
  const waiting: Delivery[] = [];
  const run = (d: Delivery): void => {
    running++;
    void slowHandler().then(async () => {
      await d.ack();
      running--;
      const next = waiting.shift();
      if (next) run(next);
    });
  };
  const sub = await transport.subscribe(topic, group, { prefetch, ordered: false }, (d) => {
    if (running < concurrency) run(d);
    else waiting.push(d);
  });
  stop = async () => {
    await sub.stop();
    await sub.close();
  };
} else if (mode !== 'backlog') {
  throw new Error(`unknown mode ${mode}`);
}

const body = new Uint8Array(size).fill(120);
const started = performance.now();
let published = 0;
while (published < messages) {
  const due = Math.min(messages, Math.floor(((performance.now() - started) / 1000) * publishRate));
  const batch = [];
  for (; published < due; published++) {
    batch.push({
      id: `m${published}`,
      headers: {},
      contentType: 'application/octet-stream',
      body,
      publishedAt: new Date(),
    });
  }
  if (batch.length > 0) await transport.publish(topic, batch);
  await sleep(10);
}
const publishSeconds = (performance.now() - started) / 1000;
await sleep(500);
peakRss = Math.max(peakRss, process.memoryUsage.rss());
clearInterval(sampler);
const heapUsed = process.memoryUsage().heapUsed;
await stop();
await carrier?.close();
process.stdout.write(
  `${JSON.stringify({
    mode,
    messages,
    size,
    concurrency,
    prefetch,
    handlerMs,
    publishRate,
    handlerRate,
    publishSeconds,
    handled,
    maxOutstanding,
    peakRssMB: peakRss / 2 ** 20,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    heapUsedMB: heapUsed / 2 ** 20,
  })}\n`,
);
process.exit(0);
