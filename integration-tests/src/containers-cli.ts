import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { installEngine, serviceDown, serviceEnv, serviceUp } from './engine.js';
import { buildImages, IMAGE_DEFINITIONS, type ImageName } from './images.js';
import { harnessRoot } from './paths.js';
import { log } from './util.js';

// npm run containers:install | containers:up | containers:down | containers:build [nats rabbitmq kafka sqs]
// npm run test:containers [-- brokers (nats rabbitmq kafka sqs)] [spec files]
// (src/engine.ts, src/images.ts). Like brokers:up, `up` and `build` write only shell lines to
// stdout (`export NAME='value'`), so that `eval "$(npm run -s containers:up)"` and
// `eval "$(npm run -s containers:build)"` give the shell what the harness reads; logs go to stderr.

/**
 * What `npm run test:containers [-- brokers] [-- specs]` runs for each broker: NATS and RabbitMQ by
 * default (CI's images), Kafka and SQS when named (opt-in: `npm run test:containers -- kafka sqs`).
 */
const CONTAINER_SPECS: Record<ImageName, string[]> = {
  nats: ['specs/nats.contract.spec.ts'],
  rabbitmq: [
    'specs/rabbitmq.contract.spec.ts',
    'specs/rabbitmq.classic.contract.spec.ts',
    'specs/rabbitmq.delivery-limit.spec.ts',
    'specs/rabbitmq.attempts.spec.ts',
  ],
  kafka: ['specs/kafka.contract.spec.ts'],
  sqs: ['specs/sqs.contract.spec.ts'],
};
const DEFAULT_BROKERS: ImageName[] = ['nats', 'rabbitmq'];

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
      // npm run test:containers [-- brokers] [spec files]: the service, the images, then vitest
      const named = args.filter((a): a is ImageName => a in IMAGE_DEFINITIONS);
      const brokers = named.length ? named : DEFAULT_BROKERS;
      const files = args.filter((a) => !(a in IMAGE_DEFINITIONS));
      await serviceUp();
      const images = await buildImages(brokers);
      const specs = files.length ? files : brokers.flatMap((b) => CONTAINER_SPECS[b]);
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...serviceEnv(),
        CARRIER_TEST_ONLY: brokers.join(','),
        CARRIER_TEST_REUSE: 'false',
        CARRIER_TEST_PROVIDER: 'testcontainers',
      };
      for (const b of images) env[b.envVar] = b.tag;
      for (const b of brokers) delete env[`CARRIER_TEST_${b.toUpperCase()}_URL`];
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
        'usage: tsx integration-tests/src/containers-cli.ts install|up|down|build [nats rabbitmq kafka sqs]|test [brokers] [specs]',
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
