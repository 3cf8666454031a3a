import type { TestProject } from 'vitest/node';
import './context.js';
import { killOwnedSync, startBrokers } from './harness.js';

// globalSetup of the `integration` vitest project: starts (or reuses) the four brokers in parallel
// before any spec runs, hands their URLs to the specs (inject('brokers')) and stops what it started.

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const session = await startBrokers({ mode: 'vitest' });
  project.provide('brokers', session.urls);
  project.provide('brokersState', session.stateFile);

  // Kill the brokers if the run ends without teardown (Ctrl-C, crash).
  const onExit = () => killOwnedSync(session.stateFile);
  const onSignal = (signal: NodeJS.Signals) => {
    killOwnedSync(session.stateFile);
    // if nobody else handles the signal, behave like the default handler
    if (process.listenerCount(signal) <= 1) process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  return async () => {
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await session.teardown();
  };
}
