import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** integration-tests/ */
export const harnessRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Everything the harness installs or keeps between runs (git-ignored). */
export const brokersDir = path.join(harnessRoot, '.brokers');
export const binDir = path.join(brokersDir, 'bin');
export const venvDir = path.join(brokersDir, 'venv');
export const kafkaDir = path.join(brokersDir, 'kafka');
export const kafkaLibsDir = path.join(kafkaDir, 'libs');
export const kafkaPom = path.join(harnessRoot, 'brokers', 'kafka', 'pom.xml');
export const sqsRequirements = path.join(harnessRoot, 'brokers', 'sqs', 'requirements.txt');
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
  nats: () => findExecutable(path.join(binDir, 'nats'), 'nats'),
  /** aws cli v1 in the project venv (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, --endpoint-url) */
  aws: () => findExecutable(path.join(venvDir, 'bin', 'aws'), 'aws'),
};
