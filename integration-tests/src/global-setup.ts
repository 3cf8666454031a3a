import type { TestProject } from 'vitest/node';
import './context.js';
import { cleanupSync, killOwnedSync, startBrokers } from './harness.js';

// globalSetup of the `integration` vitest project: starts (or reuses) the four brokers in parallel
// before any spec runs, hands their URLs to the specs (inject('brokers')) and stops what it started.

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Kill the brokers if the run ends without teardown (Ctrl-C, crash), also while they start.
  let stateFile: string | undefined;
  const onExit = () => {
    // brokers a test worker restarted have new pids: the state file knows them
    if (stateFile) killOwnedSync(stateFile, { removeDir: true });
    cleanupSync();
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
  project.provide('brokersState', session.stateFile);

  return async () => {
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await session.teardown();
  };
}
