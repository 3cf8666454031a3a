import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { withLock } from './lock.js';
import {
  brokersDir,
  findExecutable,
  interopRequirements,
  interopVenvDir,
  kafkaDir,
  kafkaPom,
  machineCacheDir,
  motoLauncher,
  natscliDir,
  natsServerDir,
  schemaRegistryDir,
  schemaRegistryPom,
  sqsRequirements,
  venvDir,
  which,
} from './paths.js';
import type { BrokerName } from './types.js';
import { log, run, seconds } from './util.js';
import {
  KAFKA_PINS,
  type KafkaPin,
  kafkaPin,
  NATS_SERVER_PINS,
  NATSCLI_VERSION,
  type NatsPin,
  natsPin,
  SCHEMA_REGISTRY_PIN,
} from './versions.js';

// What the local-process provider runs, where it comes from, and how `npm run brokers:install`
// gets it. Every step checks first and does nothing when its result is already there. Every
// version is pinned (src/versions.ts, the Kafka POMs, the SQS requirements; README.md, "Broker
// versions"); RabbitMQ is the machine's Debian package. The schema registry server (Apicurio
// Registry) is built from Maven Central like Kafka's jars (brokers/schema-registry/pom.xml).
// PostgreSQL is the machine's Debian package too (`postgresql`: the newest major it has).

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

/** The JVM that runs Kafka and the schema registry: `$JAVA_HOME/bin/java`, else `java` on PATH. */
function javaExecutable(): string | undefined {
  return findExecutable(
    ...(process.env.JAVA_HOME ? [path.join(process.env.JAVA_HOME, 'bin', 'java')] : []),
    'java',
  );
}

/** The installed Kafka of `pin` (default: the line `CARRIER_TEST_KAFKA_VERSION` names, else the newest). */
export function kafkaInstall(pin: KafkaPin = kafkaPin()): KafkaInstall | undefined {
  const java = javaExecutable();
  const libs = path.join(kafkaDir(pin), 'libs');
  if (
    !java ||
    !existsSync(kafkaPom(pin)) ||
    !stampOk(path.join(kafkaDir(pin), 'stamp'), fileHash(kafkaPom(pin)))
  )
    return undefined;
  const jar = existsSync(libs) ? readdirSync(libs).find((f) => /^kafka_2\.13-.*\.jar$/.test(f)) : undefined;
  if (!jar) return undefined;
  const version = jar.replace(/^kafka_2\.13-/, '').replace(/\.jar$/, '');
  return { java, classpath: path.join(libs, '*'), version };
}

export interface SchemaRegistryInstall {
  java: string;
  /** The runnable jar of the Quarkus app (`lib/` beside it holds its dependencies). */
  jar: string;
  /** `Apicurio Registry <version>` */
  version: string;
}

/** The runnable jar's name in `.brokers/schema-registry/app` (the POM's artifactId-version-runner). */
const SCHEMA_REGISTRY_JAR = 'schema-registry-0.0.0-runner.jar';

/** The installed schema registry server (Apicurio Registry), when its build matches the POM. */
export function schemaRegistryInstall(): SchemaRegistryInstall | undefined {
  const java = javaExecutable();
  const jar = path.join(schemaRegistryDir, 'app', SCHEMA_REGISTRY_JAR);
  if (
    !java ||
    !existsSync(schemaRegistryPom) ||
    !existsSync(jar) ||
    !stampOk(path.join(schemaRegistryDir, 'stamp'), fileHash(schemaRegistryPom))
  )
    return undefined;
  return { java, jar, version: `Apicurio Registry ${SCHEMA_REGISTRY_PIN.version}` };
}

/** What the schema registry lacks to run as a local process, or undefined when it can run. */
export function missingSchemaRegistry(): string | undefined {
  if (schemaRegistryInstall()) return undefined;
  return `java 17+ and Apicurio Registry ${SCHEMA_REGISTRY_PIN.version} built in ${path.relative(process.cwd(), schemaRegistryDir)}/app`;
}

export interface PostgresInstall {
  /** `/usr/lib/postgresql/<major>/bin`: `postgres`, `initdb`. */
  binDir: string;
  /** The major version of that folder, e.g. `15`. */
  major: string;
}

/** Where Debian's `postgresql-<major>` packages put their servers. */
const POSTGRES_LIB = '/usr/lib/postgresql';

/**
 * The newest PostgreSQL server of the machine's Debian packages: the highest
 * `/usr/lib/postgresql/<major>/bin` that has both `postgres` and `initdb`.
 */
export function postgresInstall(): PostgresInstall | undefined {
  let majors: string[];
  try {
    majors = readdirSync(POSTGRES_LIB).filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    return undefined;
  }
  majors.sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const binDir = path.join(POSTGRES_LIB, major, 'bin');
    if (findExecutable(path.join(binDir, 'postgres')) && findExecutable(path.join(binDir, 'initdb')))
      return { binDir, major };
  }
  return undefined;
}

/** What PostgreSQL lacks to run as a local process, or undefined when it can run. */
export function missingPostgres(): string | undefined {
  if (postgresInstall()) return undefined;
  return `PostgreSQL's server (Debian package postgresql: ${POSTGRES_LIB}/<major>/bin/postgres)`;
}

/** The real server script (Debian's /usr/sbin wrapper would switch to the rabbitmq user). */
export function rabbitmqServer(): string | undefined {
  return findExecutable('/usr/lib/rabbitmq/bin/rabbitmq-server', 'rabbitmq-server');
}

/**
 * The pinned nats-server of `pin` (default: the line `CARRIER_TEST_NATS_VERSION` names, else the
 * newest). Never one from PATH: its version would be whatever the machine has (Debian's 2.9 is
 * older than the adapter accepts).
 */
export function natsServer(pin: NatsPin = natsPin()): string | undefined {
  return findExecutable(path.join(natsServerDir(pin.version), 'nats-server'));
}

/**
 * moto's server from the project venv, once `brokers:install` finished it (its stamp matches
 * brokers/sqs/requirements.txt). Never a `moto_server` found on PATH: that one is another version,
 * and its launcher (e.g. a pyenv shim) hides the Python that brokers/sqs/moto_server.py must run
 * under, so the tests ran on an unpatched moto (CI: a fresh clone started SQS from pyenv's
 * moto_server while the venv was still installing).
 */
export function motoServer(): string | undefined {
  const local = path.join(venvDir, 'bin', 'moto_server');
  if (existsSync(local) && stampOk(path.join(venvDir, 'carrier-stamp'), fileHash(sqsRequirements)))
    return local;
  return undefined;
}

/**
 * How to start moto's server: brokers/sqs/moto_server.py (moto with its queue operations made
 * atomic and FIFO deduplication kept after a delete, see that file) under the venv's Python.
 */
export function motoCommand(): { command: string; args: string[] } | undefined {
  if (!motoServer()) return undefined;
  const python = path.join(venvDir, 'bin', 'python');
  if (!existsSync(python)) return undefined;
  return { command: python, args: [motoLauncher] };
}

/** The version of moto in the project venv (from its dist-info), for the provider line. */
export function motoVersion(): string {
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

/** Which brokers cannot run as local processes yet, with what each lacks (of the lines asked for). */
export function missingLocal(
  lines: { nats?: string; kafka?: string } = {},
): Partial<Record<BrokerName, string>> {
  const missing: Partial<Record<BrokerName, string>> = {};
  const kafka = kafkaPin(lines.kafka);
  const nats = natsPin(lines.nats);
  if (!kafkaInstall(kafka))
    missing.kafka = `java 17+ and the Kafka ${kafka.version} jars in ${path.relative(process.cwd(), kafkaDir(kafka))}/libs`;
  if (!rabbitmqServer()) missing.rabbitmq = 'rabbitmq-server (Debian package rabbitmq-server)';
  if (!natsServer(nats))
    missing.nats = `nats-server ${nats.version} (go install github.com/nats-io/nats-server/v2@${nats.version})`;
  if (!motoServer())
    missing.sqs =
      'moto_server (pip install -r integration-tests/brokers/sqs/requirements.txt into integration-tests/.brokers/venv)';
  return missing;
}

// ---------------------------------------------------------------- install

const WHAT_TO_INSTALL = `Install by hand what failed, then run \`npm run brokers:install\` again:
  Debian/Ubuntu: apt-get install rabbitmq-server postgresql kcat amqp-tools openjdk-17-jre-headless maven python3-venv,
  and Go 1.26 or later (nats-server and natscli are built from the Go module proxy)
  (or provide running brokers with CARRIER_TEST_KAFKA_URL, CARRIER_TEST_RABBITMQ_URL, CARRIER_TEST_NATS_URL,
   CARRIER_TEST_SQS_URL, CARRIER_TEST_POSTGRES_URL, or start a container engine so that testcontainers can run them)`;

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

/** The `kafka.version` property of a Kafka POM. */
function pomKafkaVersion(pom: string): string | undefined {
  return /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(readFileSync(pom, 'utf8'))?.[1];
}

/** The `apicurio.version` property of the schema registry's POM. */
function pomApicurioVersion(): string | undefined {
  return /<apicurio\.version>([^<]+)<\/apicurio\.version>/.exec(readFileSync(schemaRegistryPom, 'utf8'))?.[1];
}

/**
 * Builds the schema registry server: `mvn package` on its POM resolves Apicurio Registry and its
 * Quarkus dependencies from Maven Central (cached in ~/.m2) and the Quarkus Maven plugin turns
 * them into a runnable app (a runner jar and `lib/`), which goes to `.brokers/schema-registry/app`.
 */
async function installSchemaRegistry(): Promise<string | undefined> {
  if (schemaRegistryInstall()) return undefined;
  const inPom = pomApicurioVersion();
  if (inPom !== SCHEMA_REGISTRY_PIN.version)
    throw new Error(
      `${schemaRegistryPom} pins Apicurio Registry ${inPom}, src/versions.ts says ${SCHEMA_REGISTRY_PIN.version}: make them agree`,
    );
  const hash = fileHash(schemaRegistryPom);
  const build = path.join(schemaRegistryDir, 'build.tmp');
  const app = path.join(schemaRegistryDir, 'app');
  const appTmp = `${app}.tmp`;
  rmSync(build, { recursive: true, force: true });
  rmSync(appTmp, { recursive: true, force: true });
  mkdirSync(schemaRegistryDir, { recursive: true });
  const cached = path.join(machineCacheDir, `schema-registry-${hash}`);
  if (existsSync(path.join(cached, SCHEMA_REGISTRY_JAR))) {
    // built before on this machine (another clone, an earlier CI run): copying takes a second
    cpSync(cached, appTmp, { recursive: true });
    rmSync(app, { recursive: true, force: true });
    renameSync(appTmp, app);
    writeFileSync(path.join(schemaRegistryDir, 'stamp'), `${hash}\n`);
    if (!schemaRegistryInstall())
      throw new Error(`the schema registry copied from ${cached} cannot be found`);
    return `Apicurio Registry ${SCHEMA_REGISTRY_PIN.version} in ${path.relative(process.cwd(), app)} (from ${cached})`;
  }
  const mvn = findExecutable('mvn');
  if (!mvn) throw new Error('maven (mvn) is missing');
  log(
    `[install] schema-registry: building Apicurio Registry ${SCHEMA_REGISTRY_PIN.version} from Maven Central (about a minute; jars cached in ~/.m2)`,
  );
  await run(
    mvn,
    ['-B', '-q', '-Dstyle.color=never', '-f', schemaRegistryPom, `-Dcarrier.build.dir=${build}`, 'package'],
    { prefix: '[install] schema-registry:' },
  );
  if (!existsSync(path.join(build, SCHEMA_REGISTRY_JAR)))
    throw new Error(`the Quarkus build left no ${SCHEMA_REGISTRY_JAR} in ${build}`);
  mkdirSync(appTmp);
  renameSync(path.join(build, SCHEMA_REGISTRY_JAR), path.join(appTmp, SCHEMA_REGISTRY_JAR));
  renameSync(path.join(build, 'lib'), path.join(appTmp, 'lib'));
  rmSync(app, { recursive: true, force: true });
  renameSync(appTmp, app);
  rmSync(build, { recursive: true, force: true });
  writeFileSync(path.join(schemaRegistryDir, 'stamp'), `${hash}\n`);
  if (!schemaRegistryInstall()) throw new Error('the schema registry was built but cannot be found');
  cacheSchemaRegistry(app, cached);
  return `Apicurio Registry ${SCHEMA_REGISTRY_PIN.version} in ${path.relative(process.cwd(), app)}`;
}

/**
 * Keeps a copy of the built app in the machine cache (`cached`, named after the POM's hash), for
 * the next clone's install, and drops copies of other POM versions. Best effort: a cache that
 * cannot be written costs the next install a build, nothing else.
 */
function cacheSchemaRegistry(app: string, cached: string): void {
  const tmp = `${cached}.${process.pid}.tmp`;
  try {
    mkdirSync(machineCacheDir, { recursive: true });
    for (const old of readdirSync(machineCacheDir))
      if (old.startsWith('schema-registry-') && path.join(machineCacheDir, old) !== cached)
        rmSync(path.join(machineCacheDir, old), { recursive: true, force: true });
    cpSync(app, tmp, { recursive: true });
    renameSync(tmp, cached);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    log(`[install] schema-registry: not cached in ${machineCacheDir} (${(err as Error).message})`);
  }
}

async function installKafka(pin: KafkaPin): Promise<string | undefined> {
  if (kafkaInstall(pin)) return undefined;
  const inPom = pomKafkaVersion(kafkaPom(pin));
  if (inPom !== pin.version)
    throw new Error(
      `${kafkaPom(pin)} pins Kafka ${inPom}, src/versions.ts says ${pin.version}: make them agree`,
    );
  const mvn = findExecutable('mvn');
  if (!mvn) throw new Error('maven (mvn) is missing');
  const libs = path.join(kafkaDir(pin), 'libs');
  const tmp = `${libs}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(kafkaDir(pin), { recursive: true });
  log(`[install] kafka ${pin.version}: resolving the broker jars from Maven Central (cached in ~/.m2)`);
  await run(
    mvn,
    [
      '-B',
      '-q',
      '-Dstyle.color=never',
      '-f',
      kafkaPom(pin),
      'dependency:copy-dependencies',
      `-DoutputDirectory=${tmp}`,
      '-DincludeScope=runtime',
    ],
    { prefix: `[install] kafka ${pin.version}:` },
  );
  rmSync(libs, { recursive: true, force: true });
  renameSync(tmp, libs);
  writeFileSync(path.join(kafkaDir(pin), 'stamp'), `${fileHash(kafkaPom(pin))}\n`);
  const k = kafkaInstall(pin);
  if (!k) throw new Error(`the Kafka ${pin.version} jars were copied but cannot be found`);
  if (k.version !== pin.version) throw new Error(`Maven copied Kafka ${k.version}, not ${pin.version}`);
  return `Kafka ${k.version} jars in ${path.relative(process.cwd(), libs)}`;
}

/** `go install <module>@<version>` into `dir` (a folder of that version's own). */
async function goInstall(module: string, version: string, dir: string, name: string): Promise<void> {
  const go = findExecutable('go', '/usr/local/go/bin/go');
  if (!go) throw new Error(`go is missing: Go 1.26 or later builds ${name} ${version}`);
  mkdirSync(dir, { recursive: true });
  await run(go, ['install', `${module}@${version}`], {
    env: { ...process.env, GOBIN: dir, GOFLAGS: '-trimpath' },
    prefix: `[install] ${name} ${version}:`,
  });
}

async function installNatsServer(pin: NatsPin): Promise<string | undefined> {
  if (natsServer(pin)) return undefined;
  log(`[install] nats-server: go install github.com/nats-io/nats-server/v2@${pin.version} (about a minute)`);
  await goInstall(
    'github.com/nats-io/nats-server/v2',
    pin.version,
    natsServerDir(pin.version),
    'nats-server',
  );
  return `nats-server ${pin.version} built from the Go module proxy`;
}

async function installNatscli(): Promise<string | undefined> {
  if (existsSync(path.join(natscliDir, 'nats'))) return undefined;
  log(`[install] natscli: go install github.com/nats-io/natscli/nats@${NATSCLI_VERSION}`);
  try {
    await goInstall('github.com/nats-io/natscli/nats', NATSCLI_VERSION, natscliDir, 'natscli');
    return `natscli ${NATSCLI_VERSION} (nats) built`;
  } catch (err) {
    // optional: only interop tests use it
    log(
      `[install] natscli: could not build the nats CLI, continuing without it (${(err as Error).message.split('\n')[0]})`,
    );
    return 'natscli not built';
  }
}

/** Every pinned nats-server, one after the other (each build uses both cores), then natscli. */
async function installNats(): Promise<string | undefined> {
  const results: string[] = [];
  for (const pin of NATS_SERVER_PINS) {
    const r = await installNatsServer(pin);
    if (r) results.push(r);
  }
  const cli = await installNatscli();
  if (cli) results.push(cli);
  return results.length ? results.join(', ') : undefined;
}

/** Every pinned Kafka, one after the other (Maven's local repository is shared). */
async function installKafkas(): Promise<string | undefined> {
  const results: string[] = [];
  for (const pin of KAFKA_PINS) {
    const r = await installKafka(pin);
    if (r) results.push(r);
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
  log('[install] venv: pip install -r brokers/sqs/requirements.txt (moto, aws cli; about a minute)');
  await run(pip, ['install', '-q', '--disable-pip-version-check', '-r', sqsRequirements], {
    prefix: '[install] venv:',
  });
  writeFileSync(stamp, `${hash}\n`);
  return `moto ${motoVersion()} and the aws cli in ${path.relative(process.cwd(), venvDir)}`;
}

/** The Python of the interop venv, when its packages match interop/confluent-python/requirements.txt. */
export function interopPython(): string | undefined {
  const python = path.join(interopVenvDir, 'bin', 'python');
  if (
    !existsSync(python) ||
    !stampOk(path.join(interopVenvDir, 'carrier-stamp'), fileHash(interopRequirements))
  )
    return undefined;
  return python;
}

/**
 * The venv of the Confluent Python client (interop/confluent-python): only the interop specs use
 * it, so a failure is reported and the install goes on (those specs then say what is missing).
 */
async function installInteropVenv(): Promise<string | undefined> {
  if (interopPython()) return undefined;
  const python = findExecutable('python3', 'python');
  if (!python) throw new Error('python3 is missing');
  try {
    if (!existsSync(path.join(interopVenvDir, 'bin', 'python'))) {
      log(`[install] interop-venv: ${python} -m venv ${path.relative(process.cwd(), interopVenvDir)}`);
      await run(python, ['-m', 'venv', interopVenvDir], { prefix: '[install] interop-venv:' });
    }
    log('[install] interop-venv: pip install -r interop/confluent-python/requirements.txt (confluent-kafka)');
    await run(
      path.join(interopVenvDir, 'bin', 'pip'),
      ['install', '-q', '--disable-pip-version-check', '-r', interopRequirements],
      { prefix: '[install] interop-venv:' },
    );
  } catch (err) {
    log(
      `[install] interop-venv: could not install the Confluent Python client, continuing without it (${(err as Error).message.split('\n')[0]})`,
    );
    return 'confluent-kafka not installed';
  }
  writeFileSync(path.join(interopVenvDir, 'carrier-stamp'), `${fileHash(interopRequirements)}\n`);
  return `confluent-kafka (Avro, schema registry) in ${path.relative(process.cwd(), interopVenvDir)}`;
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
  if (!postgresInstall()) apt.push('postgresql');
  if (!findExecutable('kcat', 'kafkacat') && !dpkgInstalled('kcat')) apt.push('kcat');
  if (!findExecutable('amqp-publish') && !dpkgInstalled('amqp-tools')) apt.push('amqp-tools');
  if (!findExecutable('java')) apt.push('openjdk-17-jre-headless');
  if (!findExecutable('mvn') && (KAFKA_PINS.some((p) => !kafkaInstall(p)) || !schemaRegistryInstall()))
    apt.push('maven');
  if (!findExecutable('python3', 'python')) apt.push('python3', 'python3-venv');
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

  // 2. the rest in parallel: Maven (Kafka's jars, then the schema registry: one Maven at a time,
  // the local repository is shared), Go build, Python venvs (the brokers', then the interop one)
  const kafka = step('kafka', installKafkas);
  const venv = step('venv', installVenv);
  const results = await Promise.allSettled([
    kafka,
    kafka.catch(() => {}).then(() => step('schema-registry', installSchemaRegistry)),
    step('nats', installNats),
    venv,
    venv.catch(() => {}).then(() => step('interop-venv', installInteropVenv)),
  ]);
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length > 0) {
    const reasons = failures.map((f) => `  - ${(f.reason as Error).message}`).join('\n');
    throw new Error(`brokers:install failed:\n${reasons}\n${WHAT_TO_INSTALL}`);
  }
  const registryMissing = missingSchemaRegistry();
  const postgresMissing = missingPostgres();
  const missing = {
    ...Object.assign({}, ...KAFKA_PINS.map((p) => missingLocal({ kafka: p.line }))),
    ...Object.assign({}, ...NATS_SERVER_PINS.map((p) => missingLocal({ nats: p.line }))),
    ...(registryMissing ? { 'schema-registry': registryMissing } : {}),
    ...(postgresMissing ? { postgres: postgresMissing } : {}),
  };
  if (Object.keys(missing).length > 0) {
    throw new Error(`still missing after install: ${JSON.stringify(missing)}\n${WHAT_TO_INSTALL}`);
  }
  log(`[install] done in ${seconds(Date.now() - t0)} s`);
}
