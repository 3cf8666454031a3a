import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { progress } from './compare.js';
import { type Figure, figure } from './report.js';
import type { BenchOptions } from './settings.js';
import { payloadTemplate, type Side, stampedPayload } from './side.js';

/** A publisher of the same kind as the consumer under test, in this process. */
async function publisherSide(broker: string, url: string, kind: 'carrier' | 'raw'): Promise<Side> {
  if (kind === 'carrier') {
    const [{ connect }, { CarrierSide }] = await Promise.all([
      import('@carrier/core'),
      import('./carrier-side.js'),
    ]);
    return new CarrierSide(await connect(url, { onError: () => {} }));
  }
  const mod = (await import(`./brokers/${broker}.js`)).default as import('./brokers/types.js').BrokerModule;
  return (await mod.rawClients(url, new Set(['platformatic'])))[0]!.side;
}

const run = promisify(execFile);

/** What one rss-child run reports. */
export interface RssResult {
  readonly mode: string;
  readonly peakRssMB: number;
  readonly maxRssMB: number;
  readonly heapUsedMB: number;
  readonly handled: number;
  readonly maxOutstanding: number;
  readonly publishSeconds: number;
  readonly prefetch: number;
  readonly concurrency: number;
}

async function child(mode: string, o: BenchOptions): Promise<RssResult> {
  const script = fileURLToPath(new URL('./rss-child.js', import.meta.url));
  const { stdout } = await run(process.execPath, [
    script,
    '--mode',
    mode,
    '--messages',
    String(o.rssMessages),
    '--size',
    String(o.size),
  ]);
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as RssResult;
  progress(
    `memory rss ${mode}: peak ${result.peakRssMB.toFixed(1)} MB, heap ${result.heapUsedMB.toFixed(1)} MB, ` +
      `handled ${result.handled}, at most ${result.maxOutstanding} unsettled`,
  );
  return result;
}

/**
 * The same on a real broker: the consumer runs in a child process that also publishes the
 * messages (confirmed batches, as fast as the broker takes them); the backlog waits in the broker,
 * so the child's RSS is its own buffering. Carrier's consumer against the raw client's, alternating.
 */
export async function brokerRssFigures(
  broker: string,
  url: string,
  o: BenchOptions,
): Promise<{ figures: Figure[]; runs: RssResult[] }> {
  const script = fileURLToPath(new URL('./rss-broker-child.js', import.meta.url));
  type BrokerRss = RssResult & { baselineRssMB: number; maxHeld: number; publishRate: number };
  const runOne = async (kind: 'carrier' | 'raw'): Promise<BrokerRss> => {
    const topic = `bench.rss.${broker}.${kind}.${Date.now()}`;
    const child = spawn(
      process.execPath,
      [
        script,
        '--broker',
        broker,
        '--url',
        url,
        '--side',
        kind,
        '--topic',
        topic,
        '--messages',
        String(o.rssMessages),
        '--size',
        String(o.size),
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const lines: string[] = [];
    let wake: (() => void) | undefined;
    let partial = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      partial += chunk;
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts.filter(Boolean));
      wake?.();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const nextLine = async (): Promise<string> => {
      while (lines.length === 0) {
        const more = new Promise<void>((resolve) => {
          wake = resolve;
        });
        const code = await Promise.race([more.then(() => undefined), exited]);
        if (code !== undefined && lines.length === 0) throw new Error(`rss consumer exited with ${code}`);
      }
      return lines.shift()!;
    };
    try {
      await nextLine(); // {"ready":true}
      // publish from this process, with the same kind of client, into the child's group
      const publisher = await publisherSide(broker, url, kind);
      const template = payloadTemplate(o.size);
      await publisher.prepare(topic, 'slow');
      const started = performance.now();
      for (let sent = 0; sent < o.rssMessages; sent += o.batch) {
        const n = Math.min(o.batch, o.rssMessages - sent);
        await publisher.publishBatch(
          topic,
          Array.from({ length: n }, () => stampedPayload(o.size, template)),
        );
      }
      const publishRate = o.rssMessages / ((performance.now() - started) / 1000);
      await publisher.close();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      child.stdin.write('stop\n');
      const r = { ...(JSON.parse(await nextLine()) as BrokerRss), publishRate };
      progress(
        `${broker} rss ${kind}: consumer ${r.baselineRssMB.toFixed(1)} -> peak ${r.peakRssMB.toFixed(1)} MB while ` +
          `${o.rssMessages} were published at ${publishRate.toFixed(0)} msg/s; handled ${r.handled}, at most ${r.maxOutstanding} held`,
      );
      return r;
    } finally {
      child.kill();
    }
  };
  const carrier = [];
  const raw = [];
  const rounds = Math.max(1, Math.min(o.rounds, 2));
  for (let i = 0; i < rounds; i++) {
    carrier.push(await runOne('carrier'));
    raw.push(await runOne('raw'));
  }
  const note =
    `consumer process alone; ${o.rssMessages} msgs of ${o.size} B published by the parent at ${carrier.map((r) => r.publishRate.toFixed(0)).join('/')} msg/s, ` +
    `handler 500 msg/s (8 x 16 ms); most held by the consumer: carrier ${Math.max(...carrier.map((r) => r.maxOutstanding))} unsettled ` +
    `(prefetch ${carrier[0]!.prefetch}), raw ${Math.max(...raw.map((r) => r.maxOutstanding))}`;
  const reference = 'raw client consumer as the bench drives it, same prefetch setting and handler';
  return {
    figures: [
      figure(
        { broker, figure: 'rss-peak.mb', unit: 'MB', higherIsBetter: false, reference, note },
        carrier.map((r) => r.peakRssMB),
        raw.map((r) => r.peakRssMB),
      ),
      figure(
        { broker, figure: 'rss-growth.mb', unit: 'MB', higherIsBetter: false, reference, note },
        carrier.map((r) => r.peakRssMB - r.baselineRssMB),
        raw.map((r) => r.peakRssMB - r.baselineRssMB),
      ),
      figure(
        { broker, figure: 'rss-heap-after.mb', unit: 'MB', higherIsBetter: false, reference, note },
        carrier.map((r) => r.heapUsedMB),
        raw.map((r) => r.heapUsedMB),
      ),
      figure(
        { broker, figure: 'rss-held.max', unit: 'msgs', higherIsBetter: false, reference, note },
        carrier.map((r) => r.maxOutstanding),
        raw.map((r) => r.maxOutstanding),
      ),
    ],
    runs: [...carrier, ...raw],
  };
}

/**
 * Memory-boundedness: peak RSS of a process whose consumer is fed `rssMessages` messages ten times
 * faster than its handler takes them, Carrier against the SPI consumer with the same prefetch,
 * alternating, plus the backlog-only floor. Every process holds the same backlog in the in-process
 * broker; a consumer that buffered without bound would add the backlog's size again.
 */
export async function rssFigures(o: BenchOptions): Promise<{ figures: Figure[]; runs: RssResult[] }> {
  const runs: RssResult[] = [];
  const carrier: RssResult[] = [];
  const raw: RssResult[] = [];
  const rounds = Math.max(1, Math.min(o.rounds, 3));
  for (let i = 0; i < rounds; i++) {
    carrier.push(await child('carrier', o));
    raw.push(await child('raw', o));
  }
  const backlog = await child('backlog', o);
  runs.push(...carrier, ...raw, backlog);
  const note =
    `${o.rssMessages} msgs of ${o.size} B at 10x the handler rate; backlog-only floor ` +
    `${backlog.peakRssMB.toFixed(0)} MB; most unsettled deliveries seen: carrier ${Math.max(...carrier.map((r) => r.maxOutstanding))}, ` +
    `raw ${Math.max(...raw.map((r) => r.maxOutstanding))} (prefetch ${carrier[0]!.prefetch})`;
  const reference = 'memory transport SPI consumer, same prefetch and handler';
  const figures = [
    figure(
      { broker: 'memory', figure: 'rss-peak.mb', unit: 'MB', higherIsBetter: false, reference, note },
      carrier.map((r) => r.peakRssMB),
      raw.map((r) => r.peakRssMB),
    ),
    figure(
      { broker: 'memory', figure: 'rss-unsettled.max', unit: 'msgs', higherIsBetter: false, reference, note },
      carrier.map((r) => r.maxOutstanding),
      raw.map((r) => r.maxOutstanding),
    ),
  ];
  return { figures, runs };
}
