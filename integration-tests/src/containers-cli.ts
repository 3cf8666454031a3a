import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { installEngine, serviceDown, serviceEnv, serviceUp } from './engine.js';
import { buildImages, IMAGE_DEFINITIONS, type ImageName } from './images.js';
import { harnessRoot } from './paths.js';
import { log } from './util.js';

// npm run containers:install | containers:up | containers:down | containers:build [nats rabbitmq …]
// npm run test:containers [-- spec files]
// (src/engine.ts, src/images.ts). Like brokers:up, `up` and `build` write only shell lines to
// stdout (`export NAME='value'`), so that `eval "$(npm run -s containers:up)"` and
// `eval "$(npm run -s containers:build)"` give the shell what the harness reads; logs go to stderr.

/** What `npm run test:containers` runs by default: the brokers that have a local image. */
const CONTAINER_SPECS = [
  'specs/nats.contract.spec.ts',
  'specs/rabbitmq.contract.spec.ts',
  'specs/rabbitmq.classic.contract.spec.ts',
  'specs/rabbitmq.delivery-limit.spec.ts',
  'specs/rabbitmq.attempts.spec.ts',
];

function exportLine(name: string, value: string): string {
  return `export ${name}='${value.replaceAll("'", "'\\''")}'\n`;
}

async function main(command: string | undefined, args: string[]): Promise<void> {
  switch (command) {
    case 'install':
      await installEngine();
      return;
    case 'up': {
      const started = await serviceUp();
      if (!started) log('[containers] podman system service already answers');
      for (const [k, v] of Object.entries(serviceEnv())) process.stdout.write(exportLine(k, v));
      // lets a script stop only the service it started (.ci/run)
      process.stdout.write(exportLine('CARRIER_PODMAN_STARTED', started ? 'true' : 'false'));
      return;
    }
    case 'down':
      log(
        (await serviceDown())
          ? '[containers] podman system service stopped'
          : '[containers] it was not running',
      );
      return;
    case 'build': {
      const names = (args.length ? args : ['nats', 'rabbitmq']) as ImageName[];
      const bad = names.filter((n) => !(n in IMAGE_DEFINITIONS));
      if (bad.length)
        throw new Error(
          `unknown image ${bad.join(', ')}: one of ${Object.keys(IMAGE_DEFINITIONS).join(', ')}`,
        );
      const built = await buildImages(names);
      for (const b of built) process.stdout.write(exportLine(b.envVar, b.tag));
      return;
    }
    case 'test': {
      // npm run test:containers [-- spec files]: the service, the images, then vitest with them
      await serviceUp();
      const images = await buildImages(['nats', 'rabbitmq']);
      const specs = args.length ? args : CONTAINER_SPECS;
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...serviceEnv(),
        CARRIER_TEST_ONLY: 'nats,rabbitmq',
        CARRIER_TEST_REUSE: 'false',
        CARRIER_TEST_PROVIDER: 'testcontainers',
      };
      for (const b of images) env[b.envVar] = b.tag;
      for (const v of ['CARRIER_TEST_NATS_URL', 'CARRIER_TEST_RABBITMQ_URL']) delete env[v];
      const vitest = spawnSync('npx', ['vitest', 'run', '--project', 'integration', ...specs], {
        cwd: path.join(harnessRoot, '..'),
        env,
        stdio: 'inherit',
      });
      process.exitCode = vitest.status ?? 1;
      return;
    }
    default:
      log(
        'usage: tsx integration-tests/src/containers-cli.ts install|up|down|build [nats rabbitmq]|test [specs]',
      );
      process.exitCode = 2;
  }
}

main(process.argv[2], process.argv.slice(3)).then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    log(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
