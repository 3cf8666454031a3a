import { ENV_URL, POSTGRES_ENV, SCHEMA_REGISTRY_ENV, startBrokers, stopUp } from './harness.js';
import { install } from './install.js';
import { withLock } from './lock.js';
import { BROKERS } from './types.js';
import { log } from './util.js';

// npm run brokers:install | brokers:up | brokers:down   (run with tsx; Node 20 cannot run .ts)
// Only `up` writes to stdout: one `export CARRIER_TEST_<BROKER>_URL='<url>'` line per broker and
// `export CARRIER_SCHEMA_REGISTRY_URL='<url>'` (the schema registry's Confluent-compatible base URL)
// and `export CARRIER_TEST_POSTGRES_URL='<url>'`, so that `eval "$(npm run -s brokers:up)"` gives
// the shell and every program it starts the brokers, the registry and PostgreSQL; everything else
// goes to stderr.

/** Single-quote a value for POSIX shells. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

async function main(command: string | undefined): Promise<void> {
  switch (command) {
    case 'install':
      await install();
      return;
    case 'up': {
      // one `up` at a time: a second one waits, then finds the brokers running and reuses them
      const session = await withLock('up', () => startBrokers({ mode: 'up' }));
      for (const name of BROKERS)
        process.stdout.write(`export ${ENV_URL[name]}=${shellQuote(session.urls[name])}\n`);
      process.stdout.write(`export ${SCHEMA_REGISTRY_ENV}=${shellQuote(session.schemaRegistryUrl)}\n`);
      process.stdout.write(`export ${POSTGRES_ENV}=${shellQuote(session.postgresUrl)}\n`);
      log('[brokers] running in the background; stop them with `npm run brokers:down`');
      return;
    }
    case 'down': {
      const stopped = await withLock('up', stopUp);
      log(stopped.length ? `[brokers] stopped ${stopped.join(', ')}` : '[brokers] nothing was running');
      return;
    }
    default:
      log('usage: tsx integration-tests/src/cli.ts install|up|down');
      process.exitCode = 2;
  }
}

main(process.argv[2]).then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    log(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
