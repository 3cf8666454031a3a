import { brokerRestart, type RestartableBroker } from '@carrier/contract';
import { afterAll, inject } from 'vitest';
import { imageFor, privateContainer } from './containers.js';
import {
  type PrivateBroker,
  type PrivateBrokerOptions,
  type PrivatePostgres,
  privateBroker,
  privatePostgres,
} from './faults.js';
import { readState } from './harness.js';
import type { BrokerName } from './types.js';

/**
 * A private broker (src/faults.ts `privateBroker`: its own ports and data dir; a container of the
 * same image when the run's broker is a container, src/containers.ts) for the contract
 * suite's `broker` option, which the reconnect case restarts. It is started on the first `url()`,
 * that is only when that case runs, and stopped and deleted in the spec file's `afterAll`; a
 * worker that dies or a case that times out first leaves it to the exit handler of
 * `privateBroker` and the registry sweep (src/registry.ts, `npm run brokers:down`).
 *
 * `query` is appended to its URL (the spec's URL options, e.g. liveness knobs); `options` go to
 * `privateBroker` (e.g. `version`: the pinned line a second-version spec runs).
 * Call at the top level of a spec file (it registers an `afterAll`).
 */
export function restartableBroker(
  name: BrokerName,
  query = '',
  options: PrivateBrokerOptions = {},
): RestartableBroker {
  let started: Promise<Pick<PrivateBroker, 'url' | 'restart' | 'dispose'>> | undefined;
  const start = () => {
    // the run's broker is a container (a version the local provider may not have): so is this one;
    // a version-pinned spec (options.version) always runs the pinned local line
    started ??=
      sharedInContainer(name) && options.version === undefined
        ? imageFor(name).then((image) => privateContainer(name as 'rabbitmq' | 'nats', image))
        : privateBroker(name, options);
    return started;
  };
  afterAll(async () => {
    await (await started?.catch(() => undefined))?.dispose();
  });
  return {
    persistsAcrossRestart: true,
    async url() {
      const { url } = await start();
      return query ? `${url}${url.includes('?') ? '&' : '?'}${query}` : url;
    },
    async restart() {
      await (await start()).restart();
    },
  };
}

/** A PostgreSQL of a spec file's own, started on first use (see `restartablePostgres`). */
export interface RestartablePostgres {
  /** Its URL (`postgres://carrier@127.0.0.1:<port>/postgres`); starts the server on the first call. */
  url(): Promise<string>;
  /** SIGKILL its process group; the data dir is kept. */
  kill9(): Promise<void>;
  /** Starts it again on the same port and data dir (crash recovery after kill9); resolves when it answers. */
  start(): Promise<void>;
  /** Fast shutdown, then start. */
  restart(): Promise<void>;
  /** The started server (its ports, version, isRunning, stop). */
  server(): Promise<PrivatePostgres>;
}

/**
 * A private PostgreSQL for a spec file's fault cases (src/faults.ts `privatePostgres`: a cluster of
 * its own on a free port, always a local process), like `restartableBroker`: started on the first
 * call of any method, stopped and deleted in the spec file's `afterAll` (else by `privatePostgres`'s
 * exit handler and the registry sweep). Call at the top level of a spec file.
 */
export function restartablePostgres(): RestartablePostgres {
  let started: Promise<PrivatePostgres> | undefined;
  const server = () => {
    started ??= privatePostgres();
    return started;
  };
  afterAll(async () => {
    await (await started?.catch(() => undefined))?.dispose();
  });
  return {
    server,
    url: async () => (await server()).url,
    kill9: async () => (await server()).kill9(),
    start: async () => (await server()).start(),
    restart: async () => (await server()).restart(),
  };
}

/** Whether this run's `name` broker runs in a container (RabbitMQ and NATS only so far). */
function sharedInContainer(name: BrokerName): boolean {
  if (name !== 'rabbitmq' && name !== 'nats') return false;
  return readState(inject('brokersState'))?.brokers[name]?.provider === 'testcontainers';
}

/**
 * The reconnect case on SQS, skipped with the reason (for the `skip` option of the SQS specs):
 * the emulator keeps nothing across a restart, and real SQS has no broker to restart.
 */
export const sqsRestartSkip: Readonly<Record<string, string>> = {
  [brokerRestart.name]:
    'moto keeps everything in memory: a restarted moto_server has no queues or topics ' +
    '(real SQS is a managed service, with no broker to restart)',
};
