/**
 * Consumer process of the broker memory-boundedness figure (run by rss.ts, one process per run so
 * that each peak RSS is its own): a consumer with a slow handler (concurrency C, each message takes
 * `handler-ms`) of `--topic`. The parent publishes the messages from its own process, in confirmed
 * batches as fast as the broker takes them (ten times the handler's rate or more), so the backlog
 * waits in the broker and this process's RSS is the consumer's alone.
 *
 *   side carrier: Carrier's consumer (prefetch P), unsettled deliveries counted at the SPI;
 *   side raw:     the broker's raw client consumer as the bench drives it (same prefetch setting).
 *
 * Protocol: prints `{"ready":true}` once subscribed; on a `stop` line on stdin prints one JSON line
 * (RSS when ready, peak RSS, heap, messages handled, most messages held at once) and exits.
 */
import { parseArgs } from 'node:util';
import {
  connect,
  type Delivery,
  type Transport,
  type TransportFactory,
  type TransportSubscribeOptions,
} from '@carrier/core';
import { CarrierSide } from './carrier-side.js';
import type { Side } from './side.js';

const { values } = parseArgs({
  options: {
    broker: { type: 'string' },
    url: { type: 'string' },
    side: { type: 'string', default: 'carrier' },
    messages: { type: 'string', default: '100000' },
    size: { type: 'string', default: '1024' },
    concurrency: { type: 'string', default: '8' },
    prefetch: { type: 'string', default: '16' },
    'handler-ms': { type: 'string', default: '16' },
    topic: { type: 'string' },
  },
});
const broker = values.broker!;
if (values.side !== 'carrier' && values.side !== 'raw')
  throw new Error(`rss-broker-child: --side must be carrier or raw, not ${values.side}`);
const url = values.url!;
const messages = Number(values.messages);
const size = Number(values.size);
const concurrency = Number(values.concurrency);
const prefetch = Number(values.prefetch);
const handlerMs = Number(values['handler-ms']);

const ADAPTERS: Record<string, string> = {
  kafka: '@carrier/adapter-kafka',
  rabbitmq: '@carrier/adapter-rabbitmq',
  nats: '@carrier/adapter-nats',
  sqs: '@carrier/adapter-sqs',
};

let held = 0;
let maxHeld = 0;
let unsettled = 0;
let maxUnsettled = 0;
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
      unsettled++;
      maxUnsettled = Math.max(maxUnsettled, unsettled);
      const settled =
        <A extends unknown[]>(f: (...a: A) => Promise<void>) =>
        (...a: A) => {
          unsettled--;
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
let running = 0;
const waiting: Array<() => void> = [];
/** The slow handler: at most `concurrency` run at once; a message counts as held from arrival to its end. */
async function slowHandler(): Promise<void> {
  held++;
  maxHeld = Math.max(maxHeld, held);
  if (running >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  await sleep(handlerMs);
  running--;
  waiting.shift()?.();
  handled++;
  held--;
}

const onError = (e: Error) => process.stderr.write(`${e.message}\n`);
let side: Side;
if (values.side === 'carrier') {
  const adapter = (await import(ADAPTERS[broker]!)) as { createTransport: TransportFactory };
  const factory: TransportFactory = async (u, o) => observed(await adapter.createTransport(u, o));
  side = new CarrierSide(await connect(url, { onError, transport: factory }));
} else {
  const mod = (await import(`./brokers/${broker}.js`)).default as import('./brokers/types.js').BrokerModule;
  side = (await mod.rawClients(url, new Set(['platformatic'])))[0]!.side;
}

let peakRss = process.memoryUsage.rss();
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 20);

const topic = values.topic!;
const group = 'slow';
await side.prepare(topic, group);
await side.consume(topic, group, { prefetch, concurrency }, slowHandler);
await sleep(300);
const baselineRss = process.memoryUsage.rss();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
await new Promise<void>((resolve) => {
  let buffered = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    buffered += chunk;
    if (buffered.includes('stop')) resolve();
  });
});
peakRss = Math.max(peakRss, process.memoryUsage.rss());
clearInterval(sampler);
process.stdout.write(
  `${JSON.stringify({
    mode: values.side,
    broker,
    messages,
    size,
    concurrency,
    prefetch,
    handlerMs,
    handlerRate: (concurrency * 1000) / handlerMs,
    handled,
    maxOutstanding: values.side === 'carrier' ? maxUnsettled : maxHeld,
    maxHeld,
    baselineRssMB: baselineRss / 2 ** 20,
    peakRssMB: peakRss / 2 ** 20,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    heapUsedMB: process.memoryUsage().heapUsed / 2 ** 20,
  })}\n`,
);
// Leave without stopping the consumer: slow handlers are still in flight and the topic is fresh.
process.exit(0);
