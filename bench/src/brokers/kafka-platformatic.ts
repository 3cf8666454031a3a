import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { progress } from '../compare.js';
import type { Figure } from '../report.js';
import type { ConsumeOptions, Consumption, Side } from '../side.js';
import type { RawClient } from './types.js';

const exec = promisify(execFile);
const benchRoot = fileURLToPath(new URL('../..', import.meta.url));
const node24Dir = path.join(benchRoot, '.node24');
const node24 = path.join(node24Dir, 'bin', 'node');
const packageDir = path.join(node24Dir, 'lib', 'node_modules', '@platformatic', 'kafka');
/** Set by the parent bench for the Node 24 child that runs the @platformatic/kafka comparison. */
export const CHILD_ENV = 'CARRIER_BENCH_PLATFORMATIC_CHILD';

/** Whether this Node can run @platformatic/kafka 2.x (Node >= 22.22 on 22, >= 24.6 on 24+). */
export function nodeRunsPlatformatic(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return (major === 22 && minor >= 22) || (major === 24 && minor >= 6) || major > 24;
}

// The slice of @platformatic/kafka 2.x's API the bench uses (the package is loaded at run time).
interface PlatformaticModule {
  Producer: new (
    options: Record<string, unknown>,
  ) => {
    send(options: { messages: { topic: string; value: Buffer }[] }): Promise<unknown>;
    close(): Promise<void>;
  };
  Consumer: new (
    options: Record<string, unknown>,
  ) => {
    consume(options: Record<string, unknown>): Promise<{
      on(event: 'data', listener: (message: { value: Buffer }) => void): unknown;
      on(event: 'error', listener: (error: Error) => void): unknown;
      close(): Promise<void>;
    }>;
    close(force?: boolean): Promise<void>;
  };
  Admin: new (
    options: Record<string, unknown>,
  ) => {
    createTopics(options: { topics: string[]; partitions: number; replicas: number }): Promise<unknown>;
    metadata(options: { topics: string[] }): Promise<unknown>;
    close(): Promise<void>;
  };
}

/**
 * @platformatic/kafka 2.12 with the same durability as the kafkajs side: idempotent producer
 * (which forces acks=-1 and one request in flight), topics with the adapter's partition count;
 * a consumer group stream with autocommit and maxWaitTime 250 ms.
 */
class PlatformaticSide implements Side {
  readonly label = 'platformatic';
  readonly #declared = new Set<string>();
  #seq = 0;

  constructor(
    private readonly lib: PlatformaticModule,
    private readonly brokers: string[],
    private readonly partitions: number,
    private readonly producer = new lib.Producer({
      clientId: 'carrier-bench-platformatic',
      bootstrapBrokers: brokers,
      idempotent: true,
      acks: -1,
      autocreateTopics: false,
    }),
    private readonly admin = new lib.Admin({
      clientId: 'carrier-bench-platformatic-admin',
      bootstrapBrokers: brokers,
    }),
  ) {}

  async prepare(topic: string): Promise<void> {
    if (this.#declared.has(topic)) return;
    await this.admin.createTopics({ topics: [topic], partitions: this.partitions, replicas: 1 });
    await this.admin.metadata({ topics: [topic] });
    this.#declared.add(topic);
  }

  async publishOne(topic: string, payload: Uint8Array): Promise<void> {
    await this.producer.send({ messages: [{ topic, value: Buffer.from(payload) }] });
  }

  async publishBatch(topic: string, payloads: readonly Uint8Array[]): Promise<void> {
    await this.producer.send({ messages: payloads.map((p) => ({ topic, value: Buffer.from(p) })) });
  }

  async consume(
    topic: string,
    group: string,
    _options: ConsumeOptions,
    onMessage: (payload: Uint8Array) => void | Promise<void>,
  ): Promise<Consumption> {
    const consumer = new this.lib.Consumer({
      groupId: `${group}-${topic}-${++this.#seq}`,
      clientId: 'carrier-bench-platformatic-consumer',
      bootstrapBrokers: this.brokers,
      maxWaitTime: 250,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
    });
    const stream = await consumer.consume({
      topics: [topic],
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: true,
    });
    stream.on('error', (e) => progress(`platformatic consumer: ${e.message}`));
    stream.on('data', (message) => {
      void onMessage(message.value);
    });
    return {
      stop: async () => {
        await stream.close();
        await consumer.close(true);
      },
    };
  }

  async close(): Promise<void> {
    await this.producer.close();
    await this.admin.close();
  }
}

/** @platformatic/kafka as a second raw client, when this Node can run it and it is installed. */
export async function platformaticClient(
  brokers: string[],
  partitions: number,
): Promise<RawClient | undefined> {
  if (!nodeRunsPlatformatic()) return undefined;
  if (!existsSync(packageDir)) {
    progress('kafka: @platformatic/kafka is not installed: sh bench/scripts/setup-node24.sh');
    return undefined;
  }
  const version = (
    JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string }
  ).version;
  const lib = (await import(
    pathToFileURL(path.join(packageDir, 'dist', 'index.js')).href
  )) as PlatformaticModule;
  return {
    side: new PlatformaticSide(lib, brokers, partitions),
    reference: `@platformatic/kafka ${version} idempotent producer acks=-1, consumer stream (Node ${process.versions.node})`,
    suffix: '.vs-platformatic',
  };
}

/**
 * On a Node that cannot run @platformatic/kafka: install Node 24 and the client into bench/.node24
 * (scripts/setup-node24.sh, once) and run the Kafka comparison again in a Node 24 child process,
 * Carrier against kafkajs (figures suffixed `.node24`) and against @platformatic/kafka
 * (`.vs-platformatic`), alternating in that one process. Resolves with the child's figures, or a
 * reason it could not run.
 */
export async function platformaticInChild(args: readonly string[]): Promise<Figure[] | string> {
  try {
    await exec('sh', [path.join(benchRoot, 'scripts', 'setup-node24.sh')], { timeout: 600_000 });
  } catch (error) {
    return `cannot install Node 24 + @platformatic/kafka: ${(error as Error).message.split('\n')[0]}`;
  }
  const out = mkdtempSync(path.join(os.tmpdir(), 'carrier-bench-node24-'));
  try {
    const main = path.join(benchRoot, 'dist', 'main.js');
    progress(`kafka: running the @platformatic/kafka comparison on ${node24} (Node 24)`);
    const child = execFile(
      node24,
      [main, ...args, '--broker', 'kafka', '--skip', 'ceiling,rss', '--out', out],
      {
        env: { ...process.env, [CHILD_ENV]: '1' },
        maxBuffer: 64 * 2 ** 20,
      },
    );
    child.stderr?.pipe(process.stderr);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const files = existsSync(out) ? readdirSync(out).filter((f) => f.endsWith('-kafka.json')) : [];
    if (files.length === 0) return `the Node 24 child exited with ${code} and wrote no results`;
    const results = JSON.parse(readFileSync(path.join(out, files[0]!), 'utf8')) as { figures: Figure[] };
    return results.figures;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
