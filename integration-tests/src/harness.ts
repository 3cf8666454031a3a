import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StartedTestContainer } from 'testcontainers';
import { containerRuntimeProblem, IMAGE_ENV, imageFor, imageProblem, startContainer } from './containers.js';
import { install, missingLocal, missingPostgres, missingSchemaRegistry } from './install.js';
import { killAllStartedSync, killLocalSync, readRecord, startLocal, stopLocal } from './local.js';
import { upDir, upStateFile } from './paths.js';
import { probe } from './probes.js';
import { removeContainerSync, sweep, untrack, untrackContainer } from './registry.js';
import {
  BROKERS,
  type BrokerEntry,
  type BrokerName,
  type BrokerUrls,
  type ContainerName,
  type HarnessState,
  POSTGRES,
  type PostgresEntry,
  SCHEMA_REGISTRY,
  type SchemaRegistryEntry,
  type ServerName,
} from './types.js';
import { setDummyAwsEnv } from './urls.js';
import { groupAlive, log, pollUntil, redact, seconds } from './util.js';

export const ENV_URL: Record<BrokerName, string> = {
  kafka: 'CARRIER_TEST_KAFKA_URL',
  rabbitmq: 'CARRIER_TEST_RABBITMQ_URL',
  nats: 'CARRIER_TEST_NATS_URL',
  sqs: 'CARRIER_TEST_SQS_URL',
};

/**
 * The Confluent-compatible base URL of the run's schema registry (`http://…/apis/ccompat/v7`):
 * printed by `brokers:up`, and when set, what a vitest run uses instead of starting one.
 */
export const SCHEMA_REGISTRY_ENV = 'CARRIER_SCHEMA_REGISTRY_URL';

/**
 * The run's PostgreSQL (`postgres://carrier@127.0.0.1:<port>/postgres`): printed by `brokers:up`,
 * and when set, what a vitest run uses instead of starting one.
 */
export const POSTGRES_ENV = 'CARRIER_TEST_POSTGRES_URL';

/**
 * `CARRIER_TEST_ONLY=nats,rabbitmq`: a vitest run starts only these brokers (for runs of a few spec
 * files, e.g. CI's testcontainers step); specs of the others fail on a `not-started://` URL. The
 * schema registry and PostgreSQL start only when the list names `schema-registry` / `postgres` too.
 */
function onlyServers(): { brokers: BrokerName[]; schemaRegistry: boolean; postgres: boolean } {
  const v = process.env.CARRIER_TEST_ONLY;
  if (!v) return { brokers: [...BROKERS], schemaRegistry: true, postgres: true };
  const names = v.split(',').map((n) => n.trim());
  const known: readonly string[] = [...BROKERS, SCHEMA_REGISTRY, POSTGRES];
  const bad = names.filter((n) => !known.includes(n));
  if (bad.length)
    throw new Error(`CARRIER_TEST_ONLY: unknown broker ${bad.join(', ')} (${known.join(', ')})`);
  return {
    brokers: BROKERS.filter((b) => names.includes(b)),
    schemaRegistry: names.includes(SCHEMA_REGISTRY),
    postgres: names.includes(POSTGRES),
  };
}

/** `CARRIER_TEST_PROVIDER=local-process|testcontainers` forces a provider for the brokers without a URL. */
function forcedProvider(): 'local-process' | 'testcontainers' | undefined {
  const v = process.env.CARRIER_TEST_PROVIDER;
  if (!v) return undefined;
  if (v === 'local-process' || v === 'testcontainers') return v;
  throw new Error(`CARRIER_TEST_PROVIDER must be local-process or testcontainers, not ${v}`);
}

export function readState(file: string): HarnessState | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as HarnessState;
  } catch {
    return undefined;
  }
}

/** Writes atomically; does not create the dir (a vitest run's temp dir gone means the run was aborted). */
function writeState(file: string, state: HarnessState): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}

export interface BrokersSession {
  urls: BrokerUrls;
  /**
   * The schema registry's Confluent-compatible base URL, or a `not-started://` URL naming why
   * (`CARRIER_TEST_ONLY` without `schema-registry`).
   */
  schemaRegistryUrl: string;
  /**
   * The PostgreSQL URL (`postgres://carrier@127.0.0.1:<port>/postgres`), or a `not-started://`
   * URL naming why (`CARRIER_TEST_ONLY` without `postgres`).
   */
  postgresUrl: string;
  stateFile: string;
  entries: Partial<Record<BrokerName, BrokerEntry>>;
  /** Stops what this session started (not brokers it reused or was given). */
  teardown(): Promise<void>;
}

export interface StartOptions {
  /** 'vitest': temp data dirs, stopped at teardown, reuses `brokers:up` brokers. 'up': kept running in .brokers/up. */
  mode: 'vitest' | 'up';
}

let installing: Promise<void> | undefined;

/** Temp dirs of vitest-mode sessions of this process (removed by cleanupSync). */
const tempDirs = new Set<string>();

/**
 * For 'exit'/signal handlers of the process that ran startBrokers({ mode: 'vitest' }): kills the
 * brokers it started (even while they were still starting) and removes their temp dirs.
 */
export function cleanupSync(): void {
  killAllStartedSync();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/**
 * Runs `brokers:install` once per process when the local provider lacks something: broker `name`
 * (or the schema registry), of the pinned line `version` for NATS and Kafka (src/versions.ts;
 * default: the run's line).
 */
export function ensureInstalled(name: ServerName, version?: string): Promise<void> {
  const missing: Partial<Record<ServerName, string>> =
    name === SCHEMA_REGISTRY
      ? { [SCHEMA_REGISTRY]: missingSchemaRegistry() }
      : name === POSTGRES
        ? { [POSTGRES]: missingPostgres() }
        : missingLocal(name === 'nats' || name === 'kafka' ? { [name]: version } : {});
  if (!missing[name]) return Promise.resolve();
  installing ??= (async () => {
    log(
      `[brokers] local brokers not installed (${Object.keys(missing).join(', ')}) and no container engine to use:`,
    );
    log('[brokers] running `npm run brokers:install` first (a few minutes on a fresh machine)');
    await install();
  })();
  return installing;
}

/** The brokers kept running by `npm run brokers:up`, when alive and answering. */
async function reusableUp(name: BrokerName): Promise<BrokerEntry | undefined> {
  const state = readState(upStateFile);
  const entry = state?.brokers[name];
  if (entry?.container) {
    try {
      await probe(name, entry.url);
      return { ...entry, owned: false };
    } catch {
      return undefined;
    }
  }
  if (!entry?.recordFile || !existsSync(entry.recordFile)) return undefined;
  const record = readRecord(entry.recordFile);
  if (!groupAlive(record.pid)) return undefined;
  try {
    await probe(name, record.url);
  } catch {
    return undefined;
  }
  return { ...entry, url: record.url, owned: false };
}

/** The schema registry kept running by `npm run brokers:up`, when alive and answering. */
async function reusableUpSchemaRegistry(): Promise<SchemaRegistryEntry | undefined> {
  const entry = readState(upStateFile)?.schemaRegistry;
  if (!entry?.recordFile || !existsSync(entry.recordFile)) return undefined;
  const record = readRecord(entry.recordFile);
  if (!groupAlive(record.pid)) return undefined;
  try {
    await probe(SCHEMA_REGISTRY, record.url);
  } catch {
    return undefined;
  }
  return { ...entry, url: record.url, owned: false };
}

/** The PostgreSQL kept running by `npm run brokers:up` (a local process or a container), when it answers. */
async function reusableUpPostgres(): Promise<PostgresEntry | undefined> {
  const entry = readState(upStateFile)?.postgres;
  if (!entry) return undefined;
  let url = entry.url;
  if (!entry.container) {
    if (!entry.recordFile || !existsSync(entry.recordFile)) return undefined;
    const record = readRecord(entry.recordFile);
    if (!groupAlive(record.pid)) return undefined;
    url = record.url;
  }
  try {
    await probe(POSTGRES, url);
  } catch {
    return undefined;
  }
  return { ...entry, url, owned: false };
}

/**
 * The image to run `name` in, or why the testcontainers provider is not used for it.
 * Forced (`CARRIER_TEST_PROVIDER=testcontainers`): an engine must answer (the image is pulled when
 * missing). Automatic: an engine answers and it has the image or can pull it; otherwise the local
 * provider runs it, and the provider line says why.
 */
async function containerImage(
  name: ContainerName,
  forced: 'local-process' | 'testcontainers' | undefined,
): Promise<{ image: string } | { reason: string }> {
  if (forced === 'local-process') return { reason: 'CARRIER_TEST_PROVIDER=local-process' };
  const problem = await containerRuntimeProblem();
  if (problem && forced === 'testcontainers') {
    throw new Error(
      `CARRIER_TEST_PROVIDER=testcontainers, but ${problem}. Start one (Docker, or podman: ` +
        '`npm run containers:install && eval "$(npm run -s containers:up)"`, see integration-tests/README.md)',
    );
  }
  if (problem) return { reason: problem };
  const image = await imageFor(name);
  const missing = await imageProblem(image);
  if (missing && forced === 'testcontainers') {
    throw new Error(
      `CARRIER_TEST_PROVIDER=testcontainers, but the ${missing}; set ${IMAGE_ENV[name]} to an image the engine has`,
    );
  }
  return missing ? { reason: missing } : { image };
}

/**
 * Starts (or finds) the four brokers in parallel and writes the session's state file.
 * Prints one line per broker saying which provider and version it used.
 */
export async function startBrokers(options: StartOptions): Promise<BrokersSession> {
  setDummyAwsEnv();
  const t0 = Date.now();
  const baseDir = options.mode === 'up' ? upDir : mkdtempSync(path.join(os.tmpdir(), 'carrier-brokers-'));
  if (options.mode === 'vitest') tempDirs.add(baseDir);
  if (options.mode === 'up') mkdirSync(baseDir, { recursive: true });
  const stateFile = options.mode === 'up' ? upStateFile : path.join(baseDir, 'state.json');
  const previousUp = options.mode === 'up' ? readState(upStateFile) : undefined;
  const state: HarnessState = { pid: process.pid, startedAt: new Date().toISOString(), brokers: {} };
  const containers = new Map<ContainerName, StartedTestContainer>();
  const forced = forcedProvider();

  const startOne = async (name: BrokerName): Promise<BrokerEntry> => {
    const started = Date.now();
    const line = (e: BrokerEntry, how: string) =>
      log(
        `[brokers] ${name}: ${how} ${e.version} at ${redact(e.url)} (${e.owned ? 'started' : 'ready'} in ${seconds(Date.now() - started)} s)`,
      );

    // 1. an explicit URL
    const fromEnv = options.mode === 'vitest' ? process.env[ENV_URL[name]] : undefined;
    if (fromEnv) {
      const { version } = await pollUntil(`${name} at ${ENV_URL[name]}=${redact(fromEnv)}`, 30_000, () =>
        probe(name, fromEnv),
      );
      const e: BrokerEntry = { name, provider: 'env', url: fromEnv, version: version ?? '', owned: false };
      line(e, `${ENV_URL[name]}`);
      return e;
    }

    // already running from `npm run brokers:up` (CARRIER_TEST_REUSE=false starts private ones instead)
    const up =
      options.mode === 'up' || process.env.CARRIER_TEST_REUSE !== 'false'
        ? await reusableUp(name)
        : undefined;
    if (up) {
      line(up, `${up.provider} (from brokers:up)`);
      return up;
    }
    if (options.mode === 'up') await removeLeftover(previousUp?.brokers[name]);

    // 2. testcontainers
    const choice = await containerImage(name, forced);
    if ('image' in choice) {
      const c = await startContainer(name, choice.image, { persistent: options.mode === 'up' });
      containers.set(name, c.container);
      const e: BrokerEntry = {
        name,
        provider: 'testcontainers',
        url: c.url,
        version: c.version,
        owned: true,
        container: {
          id: c.container.getId(),
          dockerHost: process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock',
        },
      };
      const { version } = await pollUntil(`${name} container`, 60_000, () => probe(name, c.url));
      if (version) e.version = `${c.version} (${version})`;
      line(e, 'testcontainers');
      return e;
    }

    // 3. a local process
    await ensureInstalled(name);
    const dataDir = path.join(baseDir, name);
    rmSync(dataDir, { recursive: true, force: true });
    const recordFile = path.join(baseDir, `${name}.json`);
    const record = await startLocal(name, dataDir, recordFile, { persistent: options.mode === 'up' });
    const e: BrokerEntry = {
      name,
      provider: 'local-process',
      url: record.url,
      version: record.version,
      recordFile,
      owned: true,
    };
    line(e, forced ? 'local-process' : `local-process (no container: ${choice.reason})`);
    return e;
  };

  // The schema registry: an explicit URL, else the one of `brokers:up`, else a local process
  // (never a container), started beside the brokers.
  const startSchemaRegistry = async (): Promise<SchemaRegistryEntry> => {
    const started = Date.now();
    const line = (e: SchemaRegistryEntry, how: string) =>
      log(
        `[brokers] ${SCHEMA_REGISTRY}: ${how} ${e.version} at ${redact(e.url)} (${e.owned ? 'started' : 'ready'} in ${seconds(Date.now() - started)} s)`,
      );
    const fromEnv = options.mode === 'vitest' ? process.env[SCHEMA_REGISTRY_ENV] : undefined;
    if (fromEnv) {
      const { version } = await pollUntil(
        `${SCHEMA_REGISTRY} at ${SCHEMA_REGISTRY_ENV}=${redact(fromEnv)}`,
        30_000,
        () => probe(SCHEMA_REGISTRY, fromEnv),
      );
      const e: SchemaRegistryEntry = { provider: 'env', url: fromEnv, version: version ?? '', owned: false };
      line(e, SCHEMA_REGISTRY_ENV);
      return e;
    }
    const up =
      options.mode === 'up' || process.env.CARRIER_TEST_REUSE !== 'false'
        ? await reusableUpSchemaRegistry()
        : undefined;
    if (up) {
      line(up, `${up.provider} (from brokers:up)`);
      return up;
    }
    if (options.mode === 'up') await removeLeftover(previousUp?.schemaRegistry);
    await ensureInstalled(SCHEMA_REGISTRY);
    const dataDir = path.join(baseDir, SCHEMA_REGISTRY);
    rmSync(dataDir, { recursive: true, force: true });
    const recordFile = path.join(baseDir, `${SCHEMA_REGISTRY}.json`);
    const record = await startLocal(SCHEMA_REGISTRY, dataDir, recordFile, {
      persistent: options.mode === 'up',
    });
    const e: SchemaRegistryEntry = {
      provider: 'local-process',
      url: record.url,
      version: record.version,
      recordFile,
      owned: true,
    };
    line(e, 'local-process');
    return e;
  };

  // PostgreSQL: an explicit URL, else the one of `brokers:up`, else a container (an engine answers
  // and has the image), else a local process (src/postgres.ts).
  const startPostgres = async (): Promise<PostgresEntry> => {
    const started = Date.now();
    const line = (e: PostgresEntry, how: string) =>
      log(
        `[brokers] ${POSTGRES}: ${how} ${e.version} at ${redact(e.url)} (${e.owned ? 'started' : 'ready'} in ${seconds(Date.now() - started)} s)`,
      );
    const fromEnv = options.mode === 'vitest' ? process.env[POSTGRES_ENV] : undefined;
    if (fromEnv) {
      const { version } = await pollUntil(`${POSTGRES} at ${POSTGRES_ENV}=${redact(fromEnv)}`, 30_000, () =>
        probe(POSTGRES, fromEnv),
      );
      const e: PostgresEntry = {
        provider: 'env',
        url: fromEnv,
        version: version ? `PostgreSQL ${version}` : '',
        owned: false,
      };
      line(e, POSTGRES_ENV);
      return e;
    }
    const up =
      options.mode === 'up' || process.env.CARRIER_TEST_REUSE !== 'false'
        ? await reusableUpPostgres()
        : undefined;
    if (up) {
      line(up, `${up.provider} (from brokers:up)`);
      return up;
    }
    if (options.mode === 'up') await removeLeftover(previousUp?.postgres);
    const choice = await containerImage(POSTGRES, forced);
    if ('image' in choice) {
      const c = await startContainer(POSTGRES, choice.image, { persistent: options.mode === 'up' });
      containers.set(POSTGRES, c.container);
      const e: PostgresEntry = {
        provider: 'testcontainers',
        url: c.url,
        version: c.version,
        owned: true,
        container: {
          id: c.container.getId(),
          dockerHost: process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock',
        },
      };
      const { version } = await pollUntil(`${POSTGRES} container`, 60_000, () => probe(POSTGRES, c.url));
      if (version) e.version = `${c.version} (PostgreSQL ${version})`;
      line(e, 'testcontainers');
      return e;
    }
    await ensureInstalled(POSTGRES);
    const dataDir = path.join(baseDir, POSTGRES);
    rmSync(dataDir, { recursive: true, force: true });
    const recordFile = path.join(baseDir, `${POSTGRES}.json`);
    const record = await startLocal(POSTGRES, dataDir, recordFile, { persistent: options.mode === 'up' });
    const e: PostgresEntry = {
      provider: 'local-process',
      url: record.url,
      version: record.version,
      recordFile,
      owned: true,
    };
    line(e, forced ? 'local-process' : `local-process (no container: ${choice.reason})`);
    return e;
  };

  const only =
    options.mode === 'vitest'
      ? onlyServers()
      : { brokers: [...BROKERS], schemaRegistry: true, postgres: true };
  const wanted = only.brokers;
  const [registryResult, postgresResult, ...results] = await Promise.allSettled([
    only.schemaRegistry ? startSchemaRegistry() : Promise.resolve(undefined),
    only.postgres ? startPostgres() : Promise.resolve(undefined),
    ...wanted.map((name) => startOne(name)),
  ]);
  wanted.forEach((name, i) => {
    const r = results[i]!;
    if (r.status === 'fulfilled') state.brokers[name] = r.value as BrokerEntry;
  });
  if (registryResult?.status === 'fulfilled' && registryResult.value)
    state.schemaRegistry = registryResult.value as SchemaRegistryEntry;
  if (postgresResult?.status === 'fulfilled' && postgresResult.value)
    state.postgres = postgresResult.value as PostgresEntry;
  writeState(stateFile, state);

  const teardown = async () => {
    await Promise.all([
      ...wanted.map(async (name) => {
        const e = state.brokers[name];
        if (!e?.owned) return;
        if (e.recordFile && existsSync(e.recordFile)) await stopLocal(readRecord(e.recordFile));
        if (e.recordFile) untrack(e.recordFile);
        await containers.get(name)?.stop();
        if (e.container) untrackContainer(e.container.id);
      }),
      (async () => {
        const e = state.schemaRegistry;
        if (!e?.owned || !e.recordFile) return;
        if (existsSync(e.recordFile)) await stopLocal(readRecord(e.recordFile));
        untrack(e.recordFile);
      })(),
      (async () => {
        const e = state.postgres;
        if (!e?.owned) return;
        if (e.recordFile && existsSync(e.recordFile)) await stopLocal(readRecord(e.recordFile));
        if (e.recordFile) untrack(e.recordFile);
        await containers.get(POSTGRES)?.stop();
        if (e.container) untrackContainer(e.container.id);
      })(),
    ]);
    if (options.mode === 'vitest') {
      rmSync(baseDir, { recursive: true, force: true });
      tempDirs.delete(baseDir);
    } else rmSync(stateFile, { force: true });
  };

  const failed = results
    .map((r, i) => (r.status === 'rejected' ? `${wanted[i]}: ${(r.reason as Error).message}` : undefined))
    .filter((m): m is string => m !== undefined);
  if (registryResult?.status === 'rejected')
    failed.push(`${SCHEMA_REGISTRY}: ${(registryResult.reason as Error).message}`);
  if (postgresResult?.status === 'rejected')
    failed.push(`${POSTGRES}: ${(postgresResult.reason as Error).message}`);
  if (failed.length > 0) {
    await teardown();
    throw new Error(`[brokers] could not start every broker:\n${failed.join('\n\n')}`);
  }
  const which =
    wanted.length === BROKERS.length && only.schemaRegistry && only.postgres
      ? 'all four, the schema registry and PostgreSQL'
      : `${[...wanted, ...(only.schemaRegistry ? [SCHEMA_REGISTRY] : []), ...(only.postgres ? [POSTGRES] : [])].join(', ')} (CARRIER_TEST_ONLY)`;
  log(`[brokers] ${which} ready in ${seconds(Date.now() - t0)} s`);

  const entries = state.brokers;
  // a broker left out by CARRIER_TEST_ONLY: a URL no transport accepts, naming why
  const url = (name: BrokerName) => entries[name]?.url ?? `not-started://${name}?see=CARRIER_TEST_ONLY`;
  const urls: BrokerUrls = {
    kafka: url('kafka'),
    rabbitmq: url('rabbitmq'),
    nats: url('nats'),
    sqs: url('sqs'),
  };
  const schemaRegistryUrl =
    state.schemaRegistry?.url ?? `not-started://${SCHEMA_REGISTRY}?see=CARRIER_TEST_ONLY`;
  const postgresUrl = state.postgres?.url ?? `not-started://${POSTGRES}?see=CARRIER_TEST_ONLY`;
  return { urls, schemaRegistryUrl, postgresUrl, stateFile, entries, teardown };
}

/** Stops what an earlier brokers:up left of `entry` that is dead or does not answer. */
async function removeLeftover(
  entry: BrokerEntry | SchemaRegistryEntry | PostgresEntry | undefined,
): Promise<void> {
  if (entry && 'container' in entry && entry.container) {
    removeContainerSync(entry.container);
    untrackContainer(entry.container.id);
  }
  if (entry?.recordFile) {
    if (existsSync(entry.recordFile)) await stopLocal(readRecord(entry.recordFile), 5_000);
    untrack(entry.recordFile);
  }
}

/** Kills, synchronously, every local broker this session owns (for 'exit' and signal handlers). */
export function killOwnedSync(stateFile: string, options: { removeDir?: boolean } = {}): void {
  const state = readState(stateFile);
  for (const e of [...Object.values(state?.brokers ?? {}), state?.schemaRegistry, state?.postgres]) {
    if (!e?.owned || !e.recordFile || !existsSync(e.recordFile)) continue;
    try {
      killLocalSync(readRecord(e.recordFile));
      untrack(e.recordFile);
    } catch {
      // best effort
    }
  }
  // the temp dir of a vitest run (never .brokers/up)
  if (options.removeDir && path.dirname(stateFile) !== upDir) {
    rmSync(path.dirname(stateFile), { recursive: true, force: true });
  }
}

/**
 * Stops the brokers of `npm run brokers:up`, then kills strays: brokers of earlier test runs whose
 * run and owner are gone (src/registry.ts). Brokers of runs still going are left alone.
 */
export async function stopUp(): Promise<string[]> {
  const state = readState(upStateFile);
  const stopped: string[] = [];
  const registry = state?.schemaRegistry;
  const postgres = state?.postgres;
  await Promise.all([
    (async () => {
      if (postgres?.container) {
        if (removeContainerSync(postgres.container)) stopped.push(`${POSTGRES} (container)`);
        untrackContainer(postgres.container.id);
        return;
      }
      if (!postgres?.recordFile || !existsSync(postgres.recordFile)) return;
      const record = readRecord(postgres.recordFile);
      const alive = groupAlive(record.pid);
      await stopLocal(record);
      untrack(postgres.recordFile);
      if (alive) stopped.push(POSTGRES);
    })(),
    (async () => {
      if (!registry?.recordFile || !existsSync(registry.recordFile)) return;
      const record = readRecord(registry.recordFile);
      const alive = groupAlive(record.pid);
      await stopLocal(record);
      untrack(registry.recordFile);
      if (alive) stopped.push(SCHEMA_REGISTRY);
    })(),
    ...Object.values(state?.brokers ?? {}).map(async (e) => {
      if (e?.container) {
        if (removeContainerSync(e.container)) stopped.push(`${e.name} (container)`);
        untrackContainer(e.container.id);
        return;
      }
      if (!e?.recordFile || !existsSync(e.recordFile)) return;
      const record = readRecord(e.recordFile);
      const alive = groupAlive(record.pid);
      await stopLocal(record);
      untrack(e.recordFile);
      if (alive) stopped.push(e.name);
    }),
  ]);
  rmSync(upDir, { recursive: true, force: true });
  for (const s of sweepStrays()) stopped.push(`${s.name} (stray, ${s.pgid ? `pid ${s.pgid}` : 'container'})`);
  return stopped;
}

/** Kills strays of earlier runs (see src/registry.ts) and says so on stderr; returns what it killed. */
export function sweepStrays(options: Parameters<typeof sweep>[0] = {}): ReturnType<typeof sweep> {
  const swept = sweep(options).filter((s) => s.wasRunning);
  for (const s of swept)
    log(
      `[brokers] ${s.pgid ? 'killed' : 'removed'} stray ${s.name} at ${s.url} (${s.pgid ? `process group ${s.pgid}` : 'container'}): ${s.reason}`,
    );
  return swept;
}
