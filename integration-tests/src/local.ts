import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import getPort from 'get-port';
import {
  kafkaInstall,
  motoCommand,
  motoVersion,
  natsServer,
  rabbitmqServer,
  schemaRegistryInstall,
} from './install.js';
import { type KafkaSecurity, kafkaSecurityConfig } from './kafka-security.js';
import { preparePostgres } from './postgres.js';
import { probe } from './probes.js';
import { type TrackOptions, track, untrack } from './registry.js';
import type { LocalBrokerRecord, ProcessSpec, ServerName } from './types.js';
import { groupAlive, killGroup, pollUntil, run, stopGroup, tail } from './util.js';
import { kafkaPin, natsPin, SCHEMA_REGISTRY_PIN } from './versions.js';

// The local-process provider: each broker runs as its own process group on free loopback ports,
// with its data and log in `dataDir`. A LocalBrokerRecord (JSON) holds all it takes to stop, kill
// and start it again with the same ports and data, from any process (see faults.ts).

const HOST = '127.0.0.1';

/** How long each broker (and the schema registry) may take to answer its readiness probe. */
export const READY_TIMEOUT_MS: Record<ServerName, number> = {
  kafka: 90_000,
  rabbitmq: 90_000,
  nats: 30_000,
  sqs: 60_000,
  // a Quarkus app: about 7 s on a quiet machine, several times that when the brokers start beside it
  'schema-registry': 120_000,
  // crash recovery after kill -9 replays the WAL since the last checkpoint: seconds
  postgres: 60_000,
};

async function freePort(): Promise<number> {
  return getPort({ host: HOST });
}

function kafkaClusterId(): string {
  // a Kafka Uuid: 16 random bytes, base64url without padding; Kafka avoids ids starting with '-'
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** How a local broker is set up beyond the defaults. */
export interface LocalOptions extends TrackOptions {
  /**
   * Kafka only: add a second listener (`EXTERNAL`, on a free port: `ports.external`) whose
   * advertised address is `127.0.0.1:<externalAdvertisedPort>`, e.g. a proxy's port that forwards to
   * `ports.external`. Clients bootstrapping through that address learn only that address from the
   * metadata, so all their traffic goes through the proxy; the record's URL (the `PLAINTEXT`
   * listener, advertised as itself) stays direct.
   */
  externalAdvertisedPort?: number;
  /**
   * Kafka only: add a SASL_SSL listener (SCRAM-SHA-512, `ports.saslSsl`) and an SSL listener that
   * requires a client certificate (`ports.ssl`), both advertised as themselves (src/kafka-security.ts).
   */
  kafkaSecurity?: KafkaSecurity;
  /**
   * RabbitMQ only: lines appended to its `rabbitmq.conf` (TLS listeners, auth mechanisms,
   * `load_definitions`, …) and plugins to enable (e.g. `rabbitmq_auth_mechanism_ssl`). The plain
   * listener and `guest` stay, for the readiness probe.
   */
  rabbitmq?: { readonly config?: readonly string[]; readonly plugins?: readonly string[] };
  /**
   * NATS and Kafka: the pinned line to run (src/versions.ts), e.g. `2.10` or `3.9`. Default: the
   * line `CARRIER_TEST_NATS_VERSION` / `CARRIER_TEST_KAFKA_VERSION` names, else the newest.
   */
  version?: string;
  /**
   * RabbitMQ only: settings of the `rabbit` application written to the node's `advanced.config`
   * (Erlang terms, e.g. `{dead_letter_worker_publisher_confirm_timeout, 5000}`); none by default.
   */
  rabbitAppSettings?: readonly string[];
}

async function prepareKafka(
  dataDir: string,
  options: LocalOptions = {},
): Promise<Omit<LocalBrokerRecord, 'pid'>> {
  const pin = kafkaPin(options.version);
  const k = kafkaInstall(pin);
  if (!k) throw new Error(`Kafka ${pin.version} is not installed: run \`npm run brokers:install\``);
  const port = await freePort();
  const controllerPort = await freePort();
  const externalPort = options.externalAdvertisedPort === undefined ? undefined : await freePort();
  const external = externalPort === undefined ? '' : `,EXTERNAL://${HOST}:${externalPort}`;
  const externalAdvertised =
    externalPort === undefined ? '' : `,EXTERNAL://${HOST}:${options.externalAdvertisedPort}`;
  const securePorts = options.kafkaSecurity && { saslSsl: await freePort(), ssl: await freePort() };
  const secure =
    options.kafkaSecurity && securePorts
      ? kafkaSecurityConfig(HOST, options.kafkaSecurity, securePorts)
      : { listeners: '', protocolMap: '', properties: [], formatArgs: [] };
  const props = path.join(dataDir, 'server.properties');
  writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `listeners=PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}${external}${secure.listeners}`,
      `advertised.listeners=PLAINTEXT://${HOST}:${port}${externalAdvertised}${secure.listeners}`,
      `listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${externalPort === undefined ? '' : ',EXTERNAL:PLAINTEXT'}${secure.protocolMap}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      // Kafka 4: a dynamic quorum (KIP-853); 3.9: the static voter list of every 3.x KRaft release
      pin.quorum === 'dynamic'
        ? `controller.quorum.bootstrap.servers=${HOST}:${controllerPort}`
        : `controller.quorum.voters=1@${HOST}:${controllerPort}`,
      `log.dirs=${path.join(dataDir, 'data')}`,
      'num.partitions=1',
      'auto.create.topics.enable=true',
      'delete.topic.enable=true',
      'group.initial.rebalance.delay.ms=0',
      // after kill -9 the restarted broker waits for its old registration to expire (default 9 s)
      'broker.session.timeout.ms=4000',
      'broker.heartbeat.interval.ms=500',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'transaction.state.log.num.partitions=1',
      // share groups (KIP-932) exist from Kafka 4.0 on
      ...(Number(pin.version.split('.')[0]) >= 4
        ? [
            'share.coordinator.state.topic.replication.factor=1',
            'share.coordinator.state.topic.min.isr=1',
            'share.coordinator.state.topic.num.partitions=1',
          ]
        : []),
      ...secure.properties,
      '',
    ].join('\n'),
  );
  const jvm = [
    '-Xms256m',
    '-Xmx512m',
    '-XX:+UseSerialGC',
    '-Djava.awt.headless=true',
    '-Dorg.slf4j.simpleLogger.showDateTime=true',
    '-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS',
    '-cp',
    k.classpath,
  ];
  // format the storage once; restarts keep it
  await run(k.java, [
    ...jvm,
    'kafka.tools.StorageTool',
    'format',
    '-t',
    kafkaClusterId(),
    '-c',
    props,
    ...(pin.quorum === 'dynamic' ? ['--standalone'] : []),
    ...secure.formatArgs,
  ]);
  return {
    name: 'kafka',
    url: `kafka://${HOST}:${port}`,
    version: `Kafka ${k.version}`,
    dataDir,
    logFile: path.join(dataDir, 'kafka.log'),
    spec: { command: k.java, args: [...jvm, 'kafka.Kafka', props], env: {}, cwd: dataDir },
    ports: {
      broker: port,
      controller: controllerPort,
      ...(externalPort === undefined ? {} : { external: externalPort }),
      ...securePorts,
    },
    cleanup: [],
  };
}

async function prepareRabbit(
  dataDir: string,
  options: LocalOptions = {},
): Promise<Omit<LocalBrokerRecord, 'pid'>> {
  const server = rabbitmqServer();
  if (!server) throw new Error('rabbitmq-server is not installed: run `npm run brokers:install`');
  const port = await freePort();
  const distPort = await freePort();
  const epmdPort = await freePort();
  const conf = path.join(dataDir, 'rabbitmq.conf');
  writeFileSync(
    conf,
    [
      `listeners.tcp.default = ${HOST}:${port}`,
      // guest/guest works from loopback only, which is all the harness needs
      'loopback_users.guest = true',
      'log.console = true',
      'log.console.level = info',
      'log.file = false',
      ...(options.rabbitmq?.config ?? []),
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(dataDir, 'enabled_plugins'), `[${(options.rabbitmq?.plugins ?? []).join(',')}].\n`);
  writeFileSync(path.join(dataDir, 'rabbitmq-env.conf'), '');
  const rabbit = options.rabbitAppSettings ?? [];
  writeFileSync(
    path.join(dataDir, 'advanced.config'),
    rabbit.length === 0 ? '[].\n' : `[{rabbit, [${rabbit.join(', ')}]}].\n`,
  );
  // Erlang keeps its cookie in $HOME: give the node its own home so it never touches the user's.
  const env: Record<string, string> = {
    HOME: dataDir,
    RABBITMQ_NODENAME: `carrier-${port}@localhost`,
    RABBITMQ_USE_LONGNAME: 'false',
    RABBITMQ_NODE_IP_ADDRESS: HOST,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: path.join(dataDir, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(dataDir, 'log'),
    RABBITMQ_LOGS: '-',
    RABBITMQ_CONFIG_FILE: conf,
    RABBITMQ_ADVANCED_CONFIG_FILE: path.join(dataDir, 'advanced.config'),
    RABBITMQ_CONF_ENV_FILE: path.join(dataDir, 'rabbitmq-env.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dataDir, 'enabled_plugins'),
    RABBITMQ_PLUGINS_EXPAND_DIR: path.join(dataDir, 'plugins-expand'),
    RABBITMQ_PID_FILE: path.join(dataDir, 'rabbitmq.pid'),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    // a private epmd on a free port, bound to loopback: nodes of parallel runs never meet
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: HOST,
  };
  const epmd = findEpmd();
  return {
    name: 'rabbitmq',
    url: `amqp://guest:guest@${HOST}:${port}`,
    version: 'RabbitMQ',
    dataDir,
    logFile: path.join(dataDir, 'rabbitmq.log'),
    spec: { command: server, args: [], env, cwd: dataDir },
    ports: { amqp: port, distribution: distPort, epmd: epmdPort },
    cleanup: epmd
      ? [{ command: epmd, args: ['-kill'], env: { ERL_EPMD_PORT: String(epmdPort) }, cwd: dataDir }]
      : [],
  };
}

function findEpmd(): string | undefined {
  const candidates = ['/usr/lib/erlang/bin/epmd', '/usr/bin/epmd', '/usr/local/bin/epmd'];
  return candidates.find((c) => existsSync(c));
}

async function prepareNats(
  dataDir: string,
  options: LocalOptions = {},
): Promise<Omit<LocalBrokerRecord, 'pid'>> {
  const pin = natsPin(options.version);
  const server = natsServer(pin);
  if (!server)
    throw new Error(`nats-server ${pin.version} is not installed: run \`npm run brokers:install\``);
  const port = await freePort();
  const out = spawnSync(server, ['--version'], { encoding: 'utf8' });
  const version = (out.stdout || out.stderr).trim().replace(/^nats-server:\s*/, '') || 'unknown version';
  return {
    name: 'nats',
    url: `nats://${HOST}:${port}`,
    version: `nats-server ${version}`,
    dataDir,
    logFile: path.join(dataDir, 'nats.log'),
    spec: {
      command: server,
      args: [
        '-a',
        HOST,
        '-p',
        String(port),
        '-n',
        `carrier-${port}`,
        '-js',
        '-sd',
        path.join(dataDir, 'jetstream'),
      ],
      env: {},
      cwd: dataDir,
    },
    ports: { client: port },
    cleanup: [],
  };
}

async function prepareSqs(dataDir: string): Promise<Omit<LocalBrokerRecord, 'pid'>> {
  const server = motoCommand();
  if (!server) throw new Error('moto_server is not installed: run `npm run brokers:install`');
  const port = await freePort();
  return {
    name: 'sqs',
    url: `sqs://${HOST}:${port}?region=us-east-1`,
    version: `moto ${motoVersion()} (SQS + SNS)`,
    dataDir,
    logFile: path.join(dataDir, 'moto.log'),
    spec: {
      command: server.command,
      args: [...server.args, '-H', HOST, '-p', String(port)],
      env: { MOTO_ALLOW_NONEXISTENT_REGION: 'true', PYTHONUNBUFFERED: '1' },
      cwd: dataDir,
    },
    ports: { http: port },
    cleanup: [],
  };
}

/**
 * Apicurio Registry with its in-memory storage (H2 in memory: a restart loses every schema), its
 * HTTP API on one free loopback port; the record's URL is the Confluent-compatible API
 * (`/apis/ccompat/v7`). The JVM is tuned to start fast, not to run long: C1 only, serial GC.
 */
async function prepareSchemaRegistry(dataDir: string): Promise<Omit<LocalBrokerRecord, 'pid'>> {
  const r = schemaRegistryInstall();
  if (!r) throw new Error('the schema registry is not installed: run `npm run brokers:install`');
  const port = await freePort();
  return {
    name: 'schema-registry',
    url: `http://${HOST}:${port}${SCHEMA_REGISTRY_PIN.confluentApiPath}`,
    version: r.version,
    dataDir,
    logFile: path.join(dataDir, 'schema-registry.log'),
    spec: {
      command: r.java,
      args: [
        '-Xms64m',
        '-Xmx384m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-Djava.awt.headless=true',
        `-Djava.io.tmpdir=${dataDir}`,
        `-Dquarkus.http.host=${HOST}`,
        '-jar',
        r.jar,
      ],
      // the app's prod profile reads its port from HTTP_PORT (a profile setting beats -Dquarkus.http.port)
      env: { HTTP_PORT: String(port) },
      cwd: dataDir,
    },
    ports: { http: port },
    cleanup: [],
  };
}

const PREPARE: Record<
  ServerName,
  (dataDir: string, options?: LocalOptions) => Promise<Omit<LocalBrokerRecord, 'pid'>>
> = {
  kafka: prepareKafka,
  rabbitmq: prepareRabbit,
  nats: prepareNats,
  sqs: prepareSqs,
  'schema-registry': prepareSchemaRegistry,
  postgres: preparePostgres,
};

export function readRecord(file: string): LocalBrokerRecord {
  return JSON.parse(readFileSync(file, 'utf8')) as LocalBrokerRecord;
}

export function writeRecord(file: string, record: LocalBrokerRecord): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(tmp, file);
}

/** Starts the process of `record` (detached, in its own process group, output appended to its log). */
export function spawnBroker(record: Omit<LocalBrokerRecord, 'pid'>): number {
  const fd = openSync(record.logFile, 'a');
  try {
    const child = spawn(record.spec.command, record.spec.args, {
      cwd: record.spec.cwd,
      env: { ...process.env, ...record.spec.env },
      detached: true,
      stdio: ['ignore', fd, fd],
      ...(record.spec.uid === undefined ? {} : { uid: record.spec.uid }),
      ...(record.spec.gid === undefined ? {} : { gid: record.spec.gid }),
    });
    child.on('error', () => {}); // reported by the readiness check through the log and exit
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${record.spec.command}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Waits until the broker answers its protocol probe; fails early with its log tail if it exits. */
export async function waitReady(
  record: LocalBrokerRecord,
  timeoutMs = READY_TIMEOUT_MS[record.name],
): Promise<string> {
  try {
    const { version } = await pollUntil(
      `${record.name} at ${record.url.replace(/\/\/[^@]*@/, '//')}`,
      timeoutMs,
      () => probe(record.name, record.url),
      () => {
        if (!groupAlive(record.pid)) throw new Error(`${record.name}: the process exited during start-up`);
      },
    );
    return version ?? '';
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\n--- last lines of ${record.logFile} ---\n${tail(record.logFile)}`,
    );
  }
}

/** Record files of the brokers this process started (for killAllStartedSync on exit). */
const startedHere = new Set<string>();

/**
 * Kills, synchronously, every broker this process started with startLocal (for 'exit' and signal
 * handlers; the brokers of `brokers:up` are never started by a process that calls this).
 */
export function killAllStartedSync(): void {
  for (const file of startedHere) {
    try {
      if (existsSync(file)) killLocalSync(readRecord(file));
      untrack(file);
    } catch {
      // best effort
    }
  }
  startedHere.clear();
}

/**
 * Creates the data dir, config and (for Kafka) storage, starts the broker and waits until it answers.
 * The broker is registered (src/registry.ts) from the moment it is spawned, so that it is killed
 * when its owner and run are gone, even if nobody stops it.
 */
export async function startLocal(
  name: ServerName,
  dataDir: string,
  recordFile: string,
  options: LocalOptions = {},
): Promise<LocalBrokerRecord> {
  mkdirSync(dataDir, { recursive: true });
  const prepared = await PREPARE[name](dataDir, options);
  const record: LocalBrokerRecord = { ...prepared, pid: spawnBroker(prepared) };
  writeRecord(recordFile, record);
  track(recordFile, record, options);
  startedHere.add(recordFile);
  try {
    const version = await waitReady(record);
    if (name === 'rabbitmq' && version) record.version = `RabbitMQ ${version}`;
    if (name === 'nats' && version) record.version = `nats-server ${version}`;
    if (name === 'postgres' && version) record.version = `PostgreSQL ${version}`;
    writeRecord(recordFile, record);
    return record;
  } catch (err) {
    await stopLocal(record, 0);
    untrack(recordFile);
    throw err;
  }
}

/** Starts an existing (stopped) broker again with the same ports and data dir, and waits for it. */
export async function restartLocal(recordFile: string): Promise<LocalBrokerRecord> {
  const record = readRecord(recordFile);
  if (groupAlive(record.pid)) return record;
  record.pid = spawnBroker(record);
  writeRecord(recordFile, record);
  track(recordFile, record);
  await waitReady(record);
  return record;
}

/**
 * Stops the broker (SIGTERM, or its record's `stopSignal` to the leader; then SIGKILL after
 * `graceMs`) and runs its clean-up commands.
 */
export async function stopLocal(record: LocalBrokerRecord, graceMs = 20_000): Promise<void> {
  if (graceMs > 0) await stopGroup(record.pid, graceMs, record.stopSignal);
  else await killGroup(record.pid);
  for (const c of record.cleanup) {
    spawnSync(c.command, c.args, {
      env: { ...process.env, ...c.env },
      cwd: c.cwd,
      stdio: 'ignore',
      timeout: 5000,
    });
  }
}

/** Synchronous last-resort kill (for process 'exit' handlers). */
export function killLocalSync(record: LocalBrokerRecord): void {
  try {
    process.kill(-record.pid, 'SIGKILL');
  } catch {
    // gone
  }
  for (const c of record.cleanup) {
    spawnSync(c.command, c.args, {
      env: { ...process.env, ...c.env },
      cwd: c.cwd,
      stdio: 'ignore',
      timeout: 5000,
    });
  }
}

export type { ProcessSpec };
