/**
 * `npm run bench [-- --broker kafka --messages 100000 --size 1024]`
 *
 * Carrier against the raw clients and against a second Carrier (A/A), rounds rotating in this
 * process. stdout: one line per figure, `<broker> <figure> carrier=<v> raw=<v> ratio=<carrier/raw>
 * [paired=… aa=… aa_band=…..… noise=yes|no]`, then a human table; the whole run goes to
 * `bench/results/<ISO date-time>-<short commit>.json` (rewritten after every broker). Progress goes
 * to stderr.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BROKERS, brokerFigures } from './broker-bench.js';
import { codecFigures } from './codec-bench.js';
import { progress } from './compare.js';
import { instructionFigures, valgrindAvailable } from './instructions.js';
import { memoryFigures } from './memory-bench.js';
import { otelFigures } from './otel-bench.js';
import { benchPostgresUrl, OUTBOX_BROKERS, outboxFigures } from './outbox-bench.js';
import {
  type BrokerResults,
  type CommitInfo,
  type Figure,
  figureLine,
  type RunInfo,
  table,
  writeResults,
} from './report.js';
import { rssFigures } from './rss.js';
import { type BenchOptions, DEFAULT_ROUNDS } from './settings.js';

/** `--skip` parts: figures and raw sides a run can leave out. */
export const SKIP_PARTS = [
  'single',
  'batch',
  'e2e',
  'steady',
  'serial',
  'rss',
  'ceiling',
  'instructions',
  'confirmed',
  'committed',
] as const;

const USAGE = `usage: npm run bench -- [options]
  --broker <name>      memory | core | otel | otel:<broker> | codecs | outbox:<broker> | kafka | kafka-platformatic |
                       rabbitmq | nats | sqs | all (all: memory, core, kafka, kafka-platformatic, rabbitmq, nats, sqs;
                       what runs "only when named" below is not in all, and may be named next to it)
                       (repeatable or comma-separated; default: memory, core and every broker whose
                       CARRIER_TEST_<BROKER>_URL is set; kafka-platformatic: Carrier on its @platformatic/kafka driver
                       against @platformatic/kafka, at CARRIER_TEST_KAFKA_URL;
                       codecs: in-process encode/decode ns/msg of the @carrier/schema codecs against jsonCodec
                       (--messages per codec per round, default 20000), only when named;
                       otel: memory with the OpenTelemetry SDK wired against none, only when named;
                       otel:kafka, otel:rabbitmq, otel:nats, otel:sqs: the same comparison on that broker,
                       at its CARRIER_TEST_<BROKER>_URL, only when named;
                       outbox:kafka, outbox:rabbitmq, outbox:nats, outbox:sqs: the transactional outbox (@carrier/outbox)
                       on that broker and PostgreSQL (CARRIER_TEST_POSTGRES_URL or DATABASE_URL): relay msg/s and
                       commit-to-handler latency against publishing directly (--messages rows per round, default
                       5000, sqs 500; --serial transactions for the latency), only when named)
  --messages <n>       messages per round for batches and end to end (default per broker, see settings.ts)
  --single <n>         messages per round for confirmed single publishes (default per broker)
  --serial <n>         messages for the serial (unloaded) latency figure (default 200)
  --rate <n>           messages per second of the steady-stream latency figure e2e-steady (default per broker:
                       memory/core 10000, kafka/rabbitmq/nats 2000, sqs 100; 2 s of messages per round)
  --size <bytes>       payload size (default 1024)
  --batch <n>          messages per batch (default 100)
  --inflight <n>       confirmed single publishes in flight at once (default 16)
  --prefetch <n>       consumer prefetch on both sides (default 64)
  --concurrency <n>    Carrier handler concurrency (default 16)
  --max-backlog <n>    end to end: published but not yet handled before the publisher waits (default 1000)
  --rounds <n>         measured rounds per side, order rotating (default 5); each round also runs a second
                       Carrier (A/A calibration) where the Carrier side has one (memory, core, brokers)
  --rss-messages <n>   messages fed to the memory-boundedness consumer (default 100000)
  --spi                also compare Carrier with the same adapter driven directly through the transport
                       SPI (figures suffixed .vs-spi): splits a gap into core's share and the adapter's
  --skip <parts>       comma-separated or repeatable: ${SKIP_PARTS.join(',')}
                       (instructions: the valgrind count of CPU instructions per message of memory and core;
                       confirmed: NATS's raw side with Carrier's guarantees; committed: Kafka's raw side committing
                       each offset as Carrier's ack)
  --out <dir>          results folder (default bench/results)
Unknown options, brokers and parts are refused (exit 2).
Broker URLs come from CARRIER_TEST_<BROKER>_URL: eval "$(npm run -s brokers:up)" first.`;

function int(name: string, value: string | undefined, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  // decimal digits only: Number() would also take '0x10', '1e3', ' 5' or '' (0)
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new Error(`--${name} must be a positive integer, not ${value}`);
  return n;
}

/** The names of a repeatable, comma-separated option; refuses one that names nothing (`--skip ''`). */
function names(option: string, values: readonly string[] | undefined): string[] {
  if (values === undefined) return [];
  const list = values.flatMap((v) => v.split(',')).map((v) => v.trim());
  if (list.length === 0 || list.includes(''))
    throw new Error(`--${option} has an empty name in ${JSON.stringify(values.join(','))}`);
  return list;
}

/** `otel:<broker>`: the OpenTelemetry comparison on a real broker. */
const OTEL_ON = BROKERS.map((b) => `otel:${b}`);
/** `outbox:<broker>`: the transactional outbox on a real broker and PostgreSQL. */
const OUTBOX_ON = OUTBOX_BROKERS.map((b) => `outbox:${b}`);

/** Read the command line; throws on anything unknown or malformed. */
export function parseOptions(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): BenchOptions & { help: boolean } {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      broker: { type: 'string', multiple: true },
      messages: { type: 'string' },
      single: { type: 'string' },
      serial: { type: 'string' },
      rate: { type: 'string' },
      size: { type: 'string' },
      batch: { type: 'string' },
      inflight: { type: 'string' },
      prefetch: { type: 'string' },
      concurrency: { type: 'string' },
      rounds: { type: 'string' },
      'max-backlog': { type: 'string' },
      'rss-messages': { type: 'string' },
      spi: { type: 'boolean' },
      skip: { type: 'string', multiple: true },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  // `all`: memory, core and the brokers; otel, codecs, otel:<broker> and outbox:<broker> run only
  // when named (USAGE), as they measure something else than Carrier against the raw clients
  const all = ['memory', 'core', ...BROKERS];
  const only = ['otel', 'codecs', ...OTEL_ON, ...OUTBOX_ON];
  let brokers = names('broker', values.broker).flatMap((b) => (b === 'all' ? all : [b]));
  if (brokers.length === 0) brokers = ['memory', 'core', ...BROKERS.filter((b) => env[urlVariable(b)])];
  for (const b of brokers)
    if (!all.includes(b) && !only.includes(b))
      throw new Error(`unknown broker ${b} (known: ${[...all, ...only].join(', ')}, all)`);
  const skip = names('skip', values.skip);
  for (const part of skip)
    if (!(SKIP_PARTS as readonly string[]).includes(part))
      throw new Error(`unknown --skip part ${part} (known: ${SKIP_PARTS.join(', ')})`);
  const concurrency = int('concurrency', values.concurrency, 16)!;
  return {
    help: values.help ?? false,
    brokers: [...new Set(brokers)],
    messages: int('messages', values.messages, undefined),
    single: int('single', values.single, undefined),
    serial: int('serial', values.serial, 200)!,
    rate: int('rate', values.rate, undefined),
    size: int('size', values.size, 1024)!,
    batch: int('batch', values.batch, 100)!,
    inflight: int('inflight', values.inflight, 16)!,
    rounds: int('rounds', values.rounds, DEFAULT_ROUNDS)!,
    maxBacklog: int('max-backlog', values['max-backlog'], 1000)!,
    consume: { prefetch: int('prefetch', values.prefetch, 64)!, concurrency },
    rssMessages: int('rss-messages', values['rss-messages'], 100_000)!,
    spi: values.spi ?? false,
    skip: new Set(skip),
    out: values.out ?? fileURLToPath(new URL('../results', import.meta.url)),
  };
}

/**
 * The environment variable the harness sets for a broker's URL (`kafka-platformatic` is the Kafka
 * broker, on Carrier's @platformatic/kafka driver: see {@link brokerUrl}).
 */
export function urlVariable(broker: string): string {
  return `CARRIER_TEST_${broker.split('-')[0]!.toUpperCase()}_URL`;
}

/**
 * The URL Carrier connects to for `broker`, from the environment: `kafka` is
 * `CARRIER_TEST_KAFKA_URL` on the default driver (kafkajs) and `kafka-platformatic` the same with
 * `client=platformatic`, whatever `client` the variable names (each part measures its own driver
 * against its own raw client; a second `client` option would be refused as repeated).
 */
export function brokerUrl(broker: string, env: NodeJS.ProcessEnv): string | undefined {
  const url = env[urlVariable(broker)];
  if (!url || !broker.startsWith('kafka')) return url;
  // string edits: a multi-host Kafka URL (`kafka://h1:9092,h2:9093`) is no WHATWG URL
  const [base = '', query] = url.split(/\?(.*)/s, 2);
  const options = (query ?? '').split('&').filter((option) => option !== '' && !/^client(=|$)/i.test(option));
  if (broker === 'kafka-platformatic') options.push('client=platformatic');
  return options.length > 0 ? `${base}?${options.join('&')}` : base;
}

/** The commit this checkout is at, and whether tracked files differ from it; undefined without git. */
export function gitCommit(cwd: string): CommitInfo | undefined {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
    const sha = git('rev-parse', 'HEAD');
    return {
      sha,
      short: sha.slice(0, 7),
      dirty: git('status', '--porcelain', '--untracked-files=no') !== '',
    };
  } catch {
    return undefined;
  }
}

/**
 * The command that reproduces one broker's figures of a run: the run's arguments with its
 * `--broker` options replaced by this broker alone.
 */
export function brokerCommand(argv: readonly string[], broker: string): string {
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--broker') i++;
    else if (!a.startsWith('--broker=')) rest.push(a);
  }
  return ['npm run bench --', '--broker', broker, ...rest].join(' ');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const options = parseOptions(argv);
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const startedAt = new Date().toISOString();
  const runId = startedAt.replace(/\D/g, '').slice(2, 14);
  const cpus = os.cpus();
  const info: RunInfo = {
    startedAt,
    command: `npm run bench -- ${argv.join(' ')}`.trim(),
    commit: gitCommit(fileURLToPath(new URL('..', import.meta.url))),
    node: process.version,
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      loadavg: os.loadavg(),
    },
    options: { ...options, skip: [...options.skip] },
  };
  const all: Figure[] = [];
  const brokers: Record<string, BrokerResults> = {};
  const emit = (broker: string, figures: Figure[], extra: unknown) => {
    for (const f of figures) process.stdout.write(`${figureLine(f)}\n`);
    all.push(...figures);
    brokers[broker] = {
      command: brokerCommand(argv, broker),
      finishedAt: new Date().toISOString(),
      loadavg: os.loadavg(),
      figures,
      ...(extra === undefined ? {} : { extra }),
    };
    const file = writeResults(options.out, { format: 2, ...info, brokers });
    progress(`wrote ${path.relative(process.cwd(), file)}`);
  };
  let failed = false;
  for (const broker of options.brokers) {
    try {
      if (broker === 'otel') {
        emit(broker, await otelFigures(options, runId), undefined);
        continue;
      }
      if (broker === 'codecs') {
        emit(broker, await codecFigures(options), undefined);
        continue;
      }
      if (broker.startsWith('otel:')) {
        const on = broker.slice('otel:'.length);
        const url = process.env[urlVariable(on)];
        if (!url) {
          progress(`${broker}: skipped, ${urlVariable(on)} is not set (eval "$(npm run -s brokers:up)")`);
          continue;
        }
        emit(broker, await otelFigures(options, runId, { broker: on, url }), undefined);
        continue;
      }
      if (broker.startsWith('outbox:')) {
        const on = broker.slice('outbox:'.length);
        const url = process.env[urlVariable(on)];
        const postgresUrl = benchPostgresUrl();
        if (!url || !postgresUrl) {
          progress(
            `${broker}: skipped, ${url ? 'CARRIER_TEST_POSTGRES_URL (or DATABASE_URL)' : urlVariable(on)} is not set`,
          );
          continue;
        }
        emit(broker, await outboxFigures(on, url, postgresUrl, options), undefined);
        continue;
      }
      if (broker === 'memory' || broker === 'core') {
        const figures = await memoryFigures({ ...options, brokers: [broker] }, runId);
        let extra: unknown;
        if (broker === 'memory' && !options.skip.has('rss')) {
          const rss = await rssFigures(options);
          figures.push(...rss.figures);
          extra = { rss: rss.runs };
        }
        if (!options.skip.has('instructions')) {
          if (valgrindAvailable()) figures.push(...(await instructionFigures(broker)));
          else
            progress(
              `${broker}: instructions per message skipped: valgrind is not installed (npm run bench:core installs it)`,
            );
        }
        emit(broker, figures, extra);
        continue;
      }
      const url = brokerUrl(broker, process.env);
      if (!url) {
        progress(`${broker}: skipped, ${urlVariable(broker)} is not set (eval "$(npm run -s brokers:up)")`);
        continue;
      }
      const { figures, extra } = await brokerFigures(broker, url, options, runId);
      emit(broker, figures, extra);
    } catch (error) {
      failed = true;
      progress(`${broker}: failed: ${(error as Error).stack ?? String(error)}`);
    }
  }
  process.stdout.write(`\n${table(all)}\n`);
  if (failed) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
      process.exit(2);
    },
  );
}
