import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import './context.js';
import { ensureInstalled, readState } from './harness.js';
import type { KafkaSecurity } from './kafka-security.js';
import {
  killLocalSync,
  type LocalOptions,
  readRecord,
  restartLocal,
  startLocal,
  stopLocal,
  waitReady,
} from './local.js';
import { untrack } from './registry.js';
import { type BrokerName, POSTGRES, type PostgresName, type ServerName } from './types.js';
import { groupAlive, killGroup } from './util.js';

// Fault hooks for reliability tests, usable from inside a test worker:
//
//   import { broker } from '../src/faults.js';
//   await broker('nats').kill9();     // SIGKILL the broker's process group
//   await broker('nats').start();     // same port, same data dir; resolves when it answers again
//   await broker('rabbitmq').restart(); // graceful stop + start
//
// broker(name) controls the run's shared broker: every spec file running in parallel sees the
// outage. For reliability tests prefer privateBroker(name), a broker of the test's own:
//
//   const nats = await privateBroker('nats');   // nats.url: its own nats://127.0.0.1:<port>
//   try { …; await nats.kill9(); await nats.start(); … } finally { await nats.dispose(); }
//
// The broker runs in other processes (started by the globalSetup or `npm run brokers:up`); its pid,
// command and data dir are in the JSON record named by this run's state file.
//
// PostgreSQL the same way, a server of the test's own (src/postgres.ts):
//
//   const pg = await privatePostgres();   // pg.url: postgres://carrier@127.0.0.1:<port>/postgres
//   try { …; await pg.kill9(); await pg.start(); … } finally { await pg.dispose(); }

/** Fault hooks of one server (a broker, or PostgreSQL) run as a local process. */
export interface ServerControl<N extends ServerName = ServerName> {
  readonly name: N;
  /** The server's URL (unchanged across restarts). */
  readonly url: string;
  /** SIGKILL the broker (its whole process group); resolves once it is gone. Data dir is kept. */
  kill9(): Promise<void>;
  /** Graceful stop (SIGTERM, SIGKILL after 20 s); resolves once it is gone. Data dir is kept. */
  stop(): Promise<void>;
  /** Starts the stopped broker on the same port with the same data dir; resolves when it answers. No-op if running. */
  start(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
  /** Whether its process runs. */
  isRunning(): boolean;
}

/** Fault hooks of one broker. */
export type BrokerControl = ServerControl<BrokerName>;

/** Controls one local-process broker of this test run. Throws for brokers of other providers. */
export function broker(name: BrokerName, stateFile: string = inject('brokersState')): BrokerControl {
  const state = readState(stateFile);
  const entry = state?.brokers[name];
  if (!entry) throw new Error(`faults: no ${name} broker in ${stateFile}`);
  if (entry.provider !== 'local-process' || !entry.recordFile) {
    throw new Error(
      `faults: ${name} runs with provider '${entry.provider}'; kill9/stop/start/restart only work with the ` +
        'local-process provider (unset CARRIER_TEST_' +
        `${name.toUpperCase()}_URL, or set CARRIER_TEST_PROVIDER=local-process), or use privateBroker()`,
    );
  }
  return control(name, entry.recordFile, entry.url);
}

/** A server of the test's own (privateBroker, privatePostgres). */
export interface PrivateServer<N extends ServerName> extends ServerControl<N> {
  /**
   * Its ports by role (e.g. Kafka: `broker`, `controller`, and `external` with
   * `externalAdvertisedPort`; PostgreSQL: `postgres`).
   */
  readonly ports: Readonly<Record<string, number>>;
  /**
   * What it runs, as its start-up found it, e.g. `nats-server 2.10.27` (from the server),
   * `Kafka 3.9.2` (from the jar), `PostgreSQL 15.14` (from the server).
   */
  readonly version: string;
  /** Its data dir and record (deleted by dispose; PostgreSQL's cluster too). */
  readonly dir: string;
  /** Stops the server and deletes its data dir. Call it in afterAll/finally. */
  dispose(): Promise<void>;
}

export type PrivateBroker = PrivateServer<BrokerName>;

/**
 * A PostgreSQL of the test's own (src/postgres.ts): `url` is
 * `postgres://carrier@127.0.0.1:<port>/postgres` (superuser `carrier`, trust authentication),
 * durable (`fsync=on`, `synchronous_commit=on`: committed transactions survive `kill9()`).
 */
export type PrivatePostgres = PrivateServer<PostgresName>;

export interface PrivateBrokerOptions {
  /**
   * Kafka only: an extra listener advertised as `127.0.0.1:<port>` (e.g. a proxy's) and bound to a
   * free port (`ports.external`); see src/local.ts. `url` stays the direct listener.
   */
  externalAdvertisedPort?: number;
  /** Kafka only: TLS and SASL listeners (`ports.saslSsl`, `ports.ssl`); see src/kafka-security.ts. */
  kafkaSecurity?: KafkaSecurity;
  /** RabbitMQ only: extra `rabbitmq.conf` lines and plugins (see src/local.ts `LocalOptions`). */
  rabbitmq?: LocalOptions['rabbitmq'];
  /** NATS and Kafka: the pinned line to run, e.g. `2.10`, `3.9` (src/versions.ts; default: the run's line). */
  version?: string;
  /** RabbitMQ only: settings of the `rabbit` application (see src/local.ts `LocalOptions`). */
  rabbitAppSettings?: readonly string[];
}

/**
 * Starts a broker of its own for the calling test (local process, fresh ports and data dir), so
 * that killing it disturbs no other spec file running in parallel. Works whatever provider the
 * shared brokers use; runs `brokers:install` first if the local binaries are missing.
 */
export async function privateBroker(
  name: BrokerName,
  options: PrivateBrokerOptions = {},
): Promise<PrivateBroker> {
  await ensureInstalled(name, options.version);
  return privateServer(name, options);
}

/**
 * Starts a PostgreSQL of its own for the calling test: a new cluster (initdb) on a free loopback
 * port, whatever provider the run's PostgreSQL uses, so that `kill9()` / `stop()` / `start()` /
 * `restart()` disturb no other spec file. `start()` after `kill9()` runs PostgreSQL's crash
 * recovery on the same data dir (WAL replay) and resolves when it answers a query. `dispose()`
 * stops it and deletes the cluster. Runs `brokers:install` first when PostgreSQL is missing.
 */
export async function privatePostgres(): Promise<PrivatePostgres> {
  await ensureInstalled(POSTGRES);
  return privateServer(POSTGRES, {});
}

async function privateServer<N extends ServerName>(
  name: N,
  options: PrivateBrokerOptions,
): Promise<PrivateServer<N>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `carrier-private-${name}-`));
  const recordFile = path.join(dir, `${name}.json`);
  // Gone with its worker: killed when the worker exits normally (here), and otherwise (a worker
  // killed by a signal, a test that timed out and never reached dispose) by the registry sweep of
  // the run's globalSetup teardown or of the next run / `npm run brokers:down` (src/registry.ts).
  const onExit = () => {
    if (existsSync(recordFile)) killLocalSync(readRecord(recordFile));
    untrack(recordFile);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  try {
    const record = await startLocal(name, path.join(dir, name), recordFile, {
      removeDir: dir,
      ...(options.externalAdvertisedPort === undefined
        ? {}
        : { externalAdvertisedPort: options.externalAdvertisedPort }),
      ...(options.kafkaSecurity === undefined ? {} : { kafkaSecurity: options.kafkaSecurity }),
      ...(options.rabbitmq === undefined ? {} : { rabbitmq: options.rabbitmq }),
      ...(options.version === undefined ? {} : { version: options.version }),
      ...(options.rabbitAppSettings === undefined ? {} : { rabbitAppSettings: options.rabbitAppSettings }),
    });
    return {
      ...control(name, recordFile, record.url),
      ports: record.ports,
      version: record.version,
      dir,
      async dispose() {
        process.off('exit', onExit);
        if (existsSync(recordFile)) await stopLocal(readRecord(recordFile));
        untrack(recordFile);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    process.off('exit', onExit);
    untrack(recordFile);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function control<N extends ServerName>(name: N, recordFile: string, url: string): ServerControl<N> {
  const c: ServerControl<N> = {
    name,
    url,
    async kill9() {
      await killGroup(readRecord(recordFile).pid);
    },
    async stop() {
      const record = readRecord(recordFile);
      // keep RabbitMQ's epmd (like a system service): only the broker goes down
      await stopLocal({ ...record, cleanup: [] });
    },
    async start() {
      const record = readRecord(recordFile);
      if (groupAlive(record.pid)) {
        await waitReady(record);
        return;
      }
      await restartLocal(recordFile);
    },
    async restart() {
      await c.stop();
      await c.start();
    },
    isRunning() {
      return groupAlive(readRecord(recordFile).pid);
    },
  };
  return c;
}
