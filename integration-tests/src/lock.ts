import { mkdirSync } from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { brokersDir } from './paths.js';
import { log } from './util.js';

/**
 * Runs `fn` while holding the machine-wide lock `name` (a lock dir in integration-tests/.brokers),
 * so that parallel `brokers:install` / `brokers:up` runs of several people in one checkout wait
 * for each other instead of installing or starting over each other. A lock whose holder died is
 * taken over after 30 s.
 */
export async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(brokersDir, { recursive: true });
  const lockfilePath = path.join(brokersDir, `${name}.lock`);
  const options = { lockfilePath, realpath: false, stale: 30_000 };
  if (await lockfile.check(brokersDir, options).catch(() => false)) {
    log(`[brokers] waiting for another run that holds ${path.relative(process.cwd(), lockfilePath)}`);
  }
  const release = await lockfile
    .lock(brokersDir, {
      ...options,
      update: 5_000,
      // up to an hour: a fresh install on a busy machine takes minutes
      retries: { retries: 14_400, factor: 1, minTimeout: 250, maxTimeout: 250 },
      onCompromised: (err) => log(`[brokers] lock ${name} lost: ${err.message}`),
    })
    .catch((err: Error) => {
      throw new Error(`could not take the lock ${lockfilePath}: ${err.message}`);
    });
  try {
    return await fn();
  } finally {
    await release().catch(() => {});
  }
}
