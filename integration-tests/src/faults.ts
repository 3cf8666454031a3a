import { inject } from 'vitest';
import './context.js';
import { readState } from './harness.js';
import { readRecord, restartLocal, stopLocal, waitReady } from './local.js';
import type { BrokerName } from './types.js';
import { groupAlive, killGroup } from './util.js';

// Fault hooks for reliability tests, usable from inside a test worker:
//
//   import { broker } from '../src/faults.js';
//   await broker('nats').kill9();     // SIGKILL the broker's process group
//   await broker('nats').start();     // same port, same data dir; resolves when it answers again
//   await broker('rabbitmq').restart(); // graceful stop + start
//
// The broker runs in other processes (started by the globalSetup or `npm run brokers:up`); its pid,
// command and data dir are in the JSON record named by this run's state file.

export interface BrokerControl {
  readonly name: BrokerName;
  /** The broker's Carrier URL (unchanged across restarts). */
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

/** Controls one local-process broker of this test run. Throws for brokers of other providers. */
export function broker(name: BrokerName, stateFile: string = inject('brokersState')): BrokerControl {
  const state = readState(stateFile);
  const entry = state?.brokers[name];
  if (!entry) throw new Error(`faults: no ${name} broker in ${stateFile}`);
  if (entry.provider !== 'local-process' || !entry.recordFile) {
    throw new Error(
      `faults: ${name} runs with provider '${entry.provider}'; kill9/stop/start/restart only work with the ` +
        'local-process provider (unset CARRIER_TEST_' +
        `${name.toUpperCase()}_URL, or set CARRIER_TEST_PROVIDER=local-process)`,
    );
  }
  const recordFile = entry.recordFile;
  const control: BrokerControl = {
    name,
    url: entry.url,
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
      await control.stop();
      await control.start();
    },
    isRunning() {
      return groupAlive(readRecord(recordFile).pid);
    },
  };
  return control;
}
