import { brokerRestart, type RestartableBroker } from '@carrier/contract';
import { afterAll } from 'vitest';
import { type PrivateBroker, type PrivateBrokerOptions, privateBroker } from './faults.js';
import type { BrokerName } from './types.js';

/**
 * A private broker (src/faults.ts `privateBroker`: its own ports and data dir) for the contract
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
  let started: Promise<PrivateBroker> | undefined;
  const start = () => {
    started ??= privateBroker(name, options);
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

/**
 * The reconnect case on SQS, skipped with the reason (for the `skip` option of the SQS specs):
 * the emulator keeps nothing across a restart, and real SQS has no broker to restart.
 */
export const sqsRestartSkip: Readonly<Record<string, string>> = {
  [brokerRestart.name]:
    'moto keeps everything in memory: a restarted moto_server has no queues or topics ' +
    '(real SQS is a managed service, with no broker to restart)',
};
