import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { withLock } from './lock.js';
import {
  binDir,
  brokersDir,
  findExecutable,
  kafkaDir,
  kafkaLibsDir,
  kafkaPom,
  sqsRequirements,
  venvDir,
  which,
} from './paths.js';
import type { BrokerName } from './types.js';
import { log, run, seconds } from './util.js';

// What the local-process provider runs, where it comes from, and how `npm run brokers:install`
// gets it. Every step checks first and does nothing when its result is already there.

const APT_TOOLS = ['kcat', 'amqp-tools'];

function fileHash(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);
}

function stampOk(stampFile: string, hash: string): boolean {
  try {
    return readFileSync(stampFile, 'utf8').trim() === hash;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- resolution

export interface KafkaInstall {
  java: string;
  classpath: string;
  version: string;
}

export function kafkaInstall(): KafkaInstall | undefined {
  const java = findExecutable(
    ...(process.env.JAVA_HOME ? [path.join(process.env.JAVA_HOME, 'bin', 'java')] : []),
    'java',
  );
  if (!java || !existsSync(kafkaPom) || !stampOk(path.join(kafkaDir, 'stamp'), fileHash(kafkaPom)))
    return undefined;
  const jar = existsSync(kafkaLibsDir)
    ? readdirSync(kafkaLibsDir).find((f) => /^kafka_2\.13-.*\.jar$/.test(f))
    : undefined;
  if (!jar) return undefined;
  const version = jar.replace(/^kafka_2\.13-/, '').replace(/\.jar$/, '');
  return { java, classpath: path.join(kafkaLibsDir, '*'), version };
}

/** The real server script (Debian's /usr/sbin wrapper would switch to the rabbitmq user). */
export function rabbitmqServer(): string | undefined {
  return findExecutable('/usr/lib/rabbitmq/bin/rabbitmq-server', 'rabbitmq-server');
}

export function natsServer(): string | undefined {
  return findExecutable(path.join(binDir, 'nats-server'), 'nats-server');
}

export function motoServer(): string | undefined {
  const local = path.join(venvDir, 'bin', 'moto_server');
  if (existsSync(local) && stampOk(path.join(venvDir, 'carrier-stamp'), fileHash(sqsRequirements)))
    return local;
  return findExecutable('moto_server');
}

/** The version of moto in the project venv (from its dist-info), for the provider line. */
export function motoVersion(): string {
  if (motoServer() !== path.join(venvDir, 'bin', 'moto_server')) return '(moto_server from PATH)';
  const lib = path.join(venvDir, 'lib');
  try {
    for (const py of readdirSync(lib)) {
      const site = path.join(lib, py, 'site-packages');
      const dist = readdirSync(site).find((d) => /^moto-.*\.dist-info$/.test(d));
      if (dist) return dist.replace(/^moto-/, '').replace(/\.dist-info$/, '');
    }
  } catch {
    // not in the venv
  }
  return '(unknown version)';
}

/** Which brokers cannot run as local processes yet, with what each lacks. */
export function missingLocal(): Partial<Record<BrokerName, string>> {
  const missing: Partial<Record<BrokerName, string>> = {};
  if (!kafkaInstall()) missing.kafka = 'java 17+ and the Kafka jars in integration-tests/.brokers/kafka/libs';
  if (!rabbitmqServer()) missing.rabbitmq = 'rabbitmq-server (Debian package rabbitmq-server)';
  if (!natsServer())
    missing.nats = 'nats-server (go install github.com/nats-io/nats-server/v2@latest, or apt nats-server)';
  if (!motoServer())
    missing.sqs = "moto_server (pip install 'moto[server]' into integration-tests/.brokers/venv)";
  return missing;
}

// ---------------------------------------------------------------- install

const WHAT_TO_INSTALL = `Install by hand what failed, then run \`npm run brokers:install\` again:
  Debian/Ubuntu: apt-get install rabbitmq-server kcat amqp-tools openjdk-17-jre-headless maven python3-venv golang-go
  (or provide running brokers with CARRIER_TEST_KAFKA_URL, CARRIER_TEST_RABBITMQ_URL, CARRIER_TEST_NATS_URL,
   CARRIER_TEST_SQS_URL, or start a container engine so that testcontainers can run them)`;

export async function aptInstall(packages: string[]): Promise<void> {
  if (packages.length === 0) return;
  const apt = which('apt-get');
  if (!apt) throw new Error(`no apt-get on this machine: install ${packages.join(', ')} yourself`);
  let command = apt;
  let prefix: string[] = [];
  if (process.getuid?.() !== 0) {
    const sudo = which('sudo');
    if (!sudo) throw new Error(`not root and no sudo: run as root: apt-get install ${packages.join(' ')}`);
    command = sudo;
    prefix = ['-n', apt];
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // wait for another apt/dpkg run on the machine instead of failing on its lock
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  log(`[install] apt: apt-get update`);
  await run(command, [...prefix, ...lock, 'update', '-q'], { env, prefix: '[install] apt:' });
  log(`[install] apt: apt-get install ${packages.join(' ')}`);
  await run(command, [...prefix, ...lock, 'install', '-y', '-q', '--no-install-recommends', ...packages], {
    env,
    prefix: '[install] apt:',
  });
}

function dpkgInstalled(pkg: string): boolean {
  try {
    const status = readFileSync('/var/lib/dpkg/status', 'utf8');
    const re = new RegExp(
      `^Package: ${pkg.replace(/[.+]/g, '\\$&')}\\n(?:[^\\n]+\\n)*?Status: install ok installed`,
      'm',
    );
    return re.test(status);
  } catch {
    return false;
  }
}

async function step(name: string, fn: () => Promise<string | undefined>): Promise<void> {
  const t0 = Date.now();
  const result = await fn();
  if (result === undefined) log(`[install] ${name}: already installed`);
  else log(`[install] ${name}: ${result} (${seconds(Date.now() - t0)} s)`);
}

async function installKafka(): Promise<string | undefined> {
  if (kafkaInstall()) return undefined;
  const mvn = findExecutable('mvn');
  if (!mvn) throw new Error('maven (mvn) is missing');
  const tmp = `${kafkaLibsDir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  log('[install] kafka: resolving the broker jars from Maven Central (cached in ~/.m2)');
  await run(
    mvn,
    [
      '-B',
      '-q',
      '-Dstyle.color=never',
      '-f',
      kafkaPom,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${tmp}`,
      '-DincludeScope=runtime',
    ],
    { prefix: '[install] kafka:' },
  );
  rmSync(kafkaLibsDir, { recursive: true, force: true });
  renameSync(tmp, kafkaLibsDir);
  writeFileSync(path.join(kafkaDir, 'stamp'), `${fileHash(kafkaPom)}\n`);
  const k = kafkaInstall();
  if (!k) throw new Error('the Kafka jars were copied but cannot be found');
  return `Kafka ${k.version} jars in ${path.relative(process.cwd(), kafkaLibsDir)}`;
}

async function goInstall(pkg: string, name: string): Promise<void> {
  const go = findExecutable('go', '/usr/local/go/bin/go');
  if (!go) throw new Error('go is missing');
  await run(go, ['install', `${pkg}@latest`], {
    env: { ...process.env, GOBIN: binDir, GOFLAGS: '-trimpath' },
    prefix: `[install] ${name}:`,
  });
}

async function installNats(): Promise<string | undefined> {
  mkdirSync(binDir, { recursive: true });
  const results: string[] = [];
  if (!existsSync(path.join(binDir, 'nats-server'))) {
    log('[install] nats-server: go install github.com/nats-io/nats-server/v2@latest (about a minute)');
    try {
      await goInstall('github.com/nats-io/nats-server/v2', 'nats-server');
      results.push('nats-server built from the Go module proxy');
    } catch (err) {
      log(
        `[install] nats-server: the Go build failed (${(err as Error).message.split('\n')[0]}); trying apt`,
      );
      if (!natsServer()) await aptInstall(['nats-server']);
      results.push("Debian's nats-server");
    }
  }
  if (!findExecutable(path.join(binDir, 'nats'), 'nats')) {
    log('[install] natscli: go install github.com/nats-io/natscli/nats@latest');
    try {
      await goInstall('github.com/nats-io/natscli/nats', 'natscli');
      results.push('natscli (nats) built');
    } catch (err) {
      // optional: only interop tests use it
      log(
        `[install] natscli: could not build the nats CLI, continuing without it (${(err as Error).message.split('\n')[0]})`,
      );
    }
  }
  return results.length ? results.join(', ') : undefined;
}

async function installVenv(): Promise<string | undefined> {
  const stamp = path.join(venvDir, 'carrier-stamp');
  const hash = fileHash(sqsRequirements);
  if (existsSync(path.join(venvDir, 'bin', 'moto_server')) && stampOk(stamp, hash)) return undefined;
  const python = findExecutable('python3', 'python');
  if (!python) throw new Error('python3 is missing');
  if (!existsSync(path.join(venvDir, 'bin', 'python'))) {
    log(`[install] venv: ${python} -m venv ${path.relative(process.cwd(), venvDir)}`);
    await run(python, ['-m', 'venv', venvDir], { prefix: '[install] venv:' });
  }
  const pip = path.join(venvDir, 'bin', 'pip');
  log("[install] venv: pip install 'moto[server]' awscli (about a minute)");
  await run(pip, ['install', '-q', '--disable-pip-version-check', '-r', sqsRequirements], {
    prefix: '[install] venv:',
  });
  writeFileSync(stamp, `${hash}\n`);
  return `moto ${motoVersion()} and the aws cli in ${path.relative(process.cwd(), venvDir)}`;
}

/**
 * Installs everything the local-process provider and the interop tests need. Idempotent: a step
 * whose result is present does nothing, so a second run takes about a second.
 */
export function install(): Promise<void> {
  return withLock('install', installUnlocked);
}

async function installUnlocked(): Promise<void> {
  const t0 = Date.now();
  mkdirSync(brokersDir, { recursive: true });
  log('[install] checking what the local brokers need (integration-tests/.brokers)');

  // 1. system packages (everything else depends on java, mvn, python3)
  const apt: string[] = [];
  if (!rabbitmqServer()) apt.push('rabbitmq-server');
  if (!findExecutable('kcat', 'kafkacat') && !dpkgInstalled('kcat')) apt.push('kcat');
  if (!findExecutable('amqp-publish') && !dpkgInstalled('amqp-tools')) apt.push('amqp-tools');
  if (!findExecutable('java')) apt.push('openjdk-17-jre-headless');
  if (!findExecutable('mvn') && !kafkaInstall()) apt.push('maven');
  if (!findExecutable('python3', 'python')) apt.push('python3', 'python3-venv');
  if (!findExecutable('go', '/usr/local/go/bin/go') && !natsServer()) apt.push('nats-server');
  await step('apt', async () => {
    if (apt.length === 0) return undefined;
    try {
      await aptInstall(apt);
    } catch (err) {
      const missingTools = apt.filter((p) => APT_TOOLS.includes(p));
      if (missingTools.length === apt.length) {
        // only the interop CLIs are missing: the brokers can still run
        log(`[install] apt: could not install ${apt.join(', ')}: ${(err as Error).message}`);
        return 'skipped (interop CLIs missing)';
      }
      throw new Error(`${(err as Error).message}\n${WHAT_TO_INSTALL}`);
    }
    return `installed ${apt.join(' ')}`;
  });

  // 2. the rest in parallel: Maven jars, Go build, Python venv
  const results = await Promise.allSettled([
    step('kafka', installKafka),
    step('nats', installNats),
    step('venv', installVenv),
  ]);
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length > 0) {
    const reasons = failures.map((f) => `  - ${(f.reason as Error).message}`).join('\n');
    throw new Error(`brokers:install failed:\n${reasons}\n${WHAT_TO_INSTALL}`);
  }
  const missing = missingLocal();
  if (Object.keys(missing).length > 0) {
    throw new Error(`still missing after install: ${JSON.stringify(missing)}\n${WHAT_TO_INSTALL}`);
  }
  log(`[install] done in ${seconds(Date.now() - t0)} s`);
}
