import type { RestartableBroker } from '@carrier/contract';
import { afterAll, beforeAll } from 'vitest';
import { type PrivateBroker, privateBroker } from './faults.js';
import type { BrokerName } from './types.js';

/** A broker of a spec file's own, of a pinned line other than the run's (src/versions.ts). */
export interface VersionedBroker {
  /** Its Carrier URL, with `query` appended; throws before `beforeAll` has started it. */
  url(): string;
  /** What it runs, e.g. `nats-server 2.10.27`; throws before `beforeAll` has started it. */
  version(): string;
  /**
   * The same broker for the contract suite's reconnect case (`broker` option): the cases of a file
   * run one after the other, so restarting the file's own broker disturbs no other case, and no
   * second broker of that version has to start.
   */
  readonly restartable: RestartableBroker;
}

/**
 * Starts a private broker (src/faults.ts) of the pinned `line` (e.g. NATS `2.10`, Kafka `3.9`) on
 * free ports in the spec file's `beforeAll` and stops it in its `afterAll`, also when a test failed
 * or timed out (a worker killed first leaves it to the registry sweep, src/registry.ts). For the
 * second version of a broker's version matrix: `url` goes to `describeTransportContract`.
 * Call at the top level of a spec file.
 */
export function versionedBroker(name: BrokerName, line: string, query = ''): VersionedBroker {
  let broker: PrivateBroker | undefined;
  beforeAll(async () => {
    broker = await privateBroker(name, { version: line });
  }, 180_000);
  afterAll(async () => {
    await broker?.dispose();
  });
  const started = (): PrivateBroker => {
    if (!broker) throw new Error(`the ${name} ${line} broker has not started (beforeAll failed?)`);
    return broker;
  };
  const url = () => {
    const { url } = started();
    return query ? `${url}${url.includes('?') ? '&' : '?'}${query}` : url;
  };
  return {
    url,
    version: () => started().version,
    restartable: {
      persistsAcrossRestart: true,
      url,
      restart: () => started().restart(),
    },
  };
}
