import type { TestProject } from 'vitest/node';
import './context.js';
import { cleanupSync, killOwnedSync, startBrokers, sweepStrays } from './harness.js';
import { markRun } from './registry.js';

// globalSetup of the `integration` vitest project: starts (or reuses) the four brokers and the schema
// registry and PostgreSQL in parallel before any spec runs, hands their URLs to the specs
// (inject('brokers'), inject('schemaRegistry'), inject('postgres')) and stops what it started.
// Every broker process started during the run (also the private ones of test workers) is in the
// registry (src/registry.ts) under this run's id; the teardown and the exit handler kill what is
// left of them, and the setup kills strays that earlier runs left behind.

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Kill the brokers if the run ends without teardown (Ctrl-C, crash), also while they start.
  let stateFile: string | undefined;
  // workers inherit CARRIER_TEST_RUN: the brokers they start are registered under this run
  const run = markRun();
  sweepStrays();
  const onExit = () => {
    // brokers a test worker restarted have new pids: the state file knows them
    if (stateFile) killOwnedSync(stateFile, { removeDir: true });
    cleanupSync();
    sweepStrays({ run });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    onExit();
    // if nobody else handles the signal, behave like the default handler
    if (process.listenerCount(signal) === 0) process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const session = await startBrokers({ mode: 'vitest' });
  stateFile = session.stateFile;
  project.provide('brokers', session.urls);
  project.provide('schemaRegistry', session.schemaRegistryUrl);
  project.provide('postgres', session.postgresUrl);
  project.provide('brokersState', session.stateFile);

  return async () => {
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await session.teardown();
    // private brokers of this run's workers that nobody disposed (a test that timed out, a killed worker)
    sweepStrays({ run });
  };
}
