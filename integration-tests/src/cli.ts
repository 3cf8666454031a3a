import path from 'node:path';
import { CLUSTER_BROKERS, type ClusterBroker, startCluster, stopClustersIn } from './cluster.js';
import { ENV_URL, POSTGRES_ENV, SCHEMA_REGISTRY_ENV, startBrokers, stopUp } from './harness.js';
import { install } from './install.js';
import { withLock } from './lock.js';
import { upDir } from './paths.js';
import { BROKERS } from './types.js';
import { log, seconds } from './util.js';

// npm run brokers:install | brokers:up | brokers:down   (run with tsx; Node 20 cannot run .ts)
// Only `up` writes to stdout: one `export CARRIER_TEST_<BROKER>_URL='<url>'` line per broker and
// `export CARRIER_SCHEMA_REGISTRY_URL='<url>'` (the schema registry's Confluent-compatible base URL)
// and `export CARRIER_TEST_POSTGRES_URL='<url>'`, so that `eval "$(npm run -s brokers:up)"` gives
// the shell and every program it starts the brokers, the registry and PostgreSQL; everything else
// goes to stderr.
// `up --cluster <kafka|rabbitmq|nats>` starts a three-node cluster instead (src/cluster.ts) in
// `.brokers/up/clusters/` and prints `export CARRIER_TEST_<BROKER>_CLUSTER_URL='<url>'`; `down`
// stops it too.

/** Where `up --cluster` keeps its clusters. */
const clustersDir = path.join(upDir, 'clusters');

async function upCluster(broker: string | undefined): Promise<void> {
  if (!CLUSTER_BROKERS.includes(broker as ClusterBroker)) {
    log(`usage: tsx integration-tests/src/cli.ts up --cluster ${CLUSTER_BROKERS.join('|')}`);
    process.exitCode = 2;
    return;
  }
  const t0 = Date.now();
  const cluster = await startCluster(broker as ClusterBroker, { persistent: true, parentDir: clustersDir });
  const env = `CARRIER_TEST_${broker!.toUpperCase()}_CLUSTER_URL`;
  process.stdout.write(`export ${env}=${shellQuote(cluster.url)}\n`);
  log(`[brokers] ${broker} cluster of three healthy in ${seconds(Date.now() - t0)} s, in ${cluster.dir}`);
  log('[brokers] running in the background; stop it with `npm run brokers:down`');
}

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
      if (process.argv[3] === '--cluster') {
        await upCluster(process.argv[4]);
        return;
      }
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
      for (const dir of stopClustersIn(clustersDir)) log(`[brokers] stopped the cluster in ${dir}`);
      const stopped = await withLock('up', stopUp);
      log(stopped.length ? `[brokers] stopped ${stopped.join(', ')}` : '[brokers] nothing was running');
      return;
    }
    default:
      log('usage: tsx integration-tests/src/cli.ts install|up [--cluster kafka|rabbitmq|nats]|down');
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
