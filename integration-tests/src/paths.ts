import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type KafkaPin, NATSCLI_VERSION, SCHEMA_REGISTRY_PIN } from './versions.js';

/** integration-tests/ */
export const harnessRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Everything the harness installs or keeps between runs (git-ignored). */
export const brokersDir = path.join(harnessRoot, '.brokers');
export const venvDir = path.join(brokersDir, 'venv');
/** The POM pinning the jars of one Kafka line (src/versions.ts). */
export const kafkaPom = (pin: KafkaPin) => path.join(harnessRoot, 'brokers', pin.folder, 'pom.xml');
/** Where one Kafka line's jars are installed (`libs/`, and `stamp`: the POM's hash). */
export const kafkaDir = (pin: KafkaPin) => path.join(brokersDir, pin.folder);
/** Where one pinned nats-server release is installed (`nats-server` in it). */
export const natsServerDir = (version: string) => path.join(brokersDir, 'nats-server', version);
/** Where the pinned natscli is installed (`nats` in it). */
export const natscliDir = path.join(brokersDir, 'natscli', NATSCLI_VERSION);
export const sqsRequirements = path.join(harnessRoot, 'brokers', 'sqs', 'requirements.txt');
/** brokers/sqs/moto_server.py: moto's server with its ReceiveMessage made atomic (see that file). */
export const motoLauncher = path.join(harnessRoot, 'brokers', 'sqs', 'moto_server.py');
/** The POM pinning the schema registry (Apicurio Registry) and the Quarkus release it is built on. */
export const schemaRegistryPom = path.join(harnessRoot, 'brokers', SCHEMA_REGISTRY_PIN.folder, 'pom.xml');
/** Where the schema registry is installed (`app/`: the runnable Quarkus app; `stamp`: the POM's hash). */
export const schemaRegistryDir = path.join(brokersDir, SCHEMA_REGISTRY_PIN.folder);
/**
 * What installs keep between clones on this machine (outside every clone, like ~/.m2): the built
 * schema registry, named after its POM's hash. `CARRIER_TEST_CACHE_DIR`, else `~/.cache/carrier-tests`.
 */
export const machineCacheDir = process.env.CARRIER_TEST_CACHE_DIR
  ? path.resolve(process.env.CARRIER_TEST_CACHE_DIR)
  : path.join(os.homedir(), '.cache', 'carrier-tests');
/**
 * The venv of the Confluent Python client for the interop specs (interop/confluent-python), apart
 * from the brokers' venv so that neither install rewrites the other.
 */
export const interopVenvDir = path.join(brokersDir, 'interop-venv');
export const interopPythonDir = path.join(harnessRoot, 'interop', 'confluent-python');
export const interopRequirements = path.join(interopPythonDir, 'requirements.txt');
/** Brokers kept running by `npm run brokers:up` (`CARRIER_TEST_UP_DIR`: another set beside them). */
export const upDir = process.env.CARRIER_TEST_UP_DIR
  ? path.resolve(process.env.CARRIER_TEST_UP_DIR)
  : path.join(brokersDir, 'up');
export const upStateFile = path.join(upDir, 'state.json');

function isExecutable(file: string): boolean {
  try {
    return statSync(file).isFile() && (statSync(file).mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** The first executable named `name` on PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** The first of `candidates` (absolute paths or bare names looked up on PATH) that exists. */
export function findExecutable(...candidates: string[]): string | undefined {
  for (const c of candidates) {
    if (path.isAbsolute(c)) {
      if (existsSync(c) && isExecutable(c)) return c;
    } else {
      const found = which(c);
      if (found) return found;
    }
  }
  return undefined;
}

/** Command-line clients for interop tests (installed by `npm run brokers:install`). */
export const cliTools = {
  /** kcat (Kafka) */
  kcat: () => findExecutable('kcat', 'kafkacat'),
  /** amqp-tools (RabbitMQ) */
  amqpPublish: () => findExecutable('amqp-publish'),
  amqpConsume: () => findExecutable('amqp-consume'),
  amqpGet: () => findExecutable('amqp-get'),
  /** natscli */
  nats: () => findExecutable(path.join(natscliDir, 'nats'), 'nats'),
  /** aws cli v1 in the project venv (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, --endpoint-url) */
  aws: () => findExecutable(path.join(venvDir, 'bin', 'aws'), 'aws'),
};
