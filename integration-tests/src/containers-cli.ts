import { installEngine, serviceDown, serviceEnv, serviceUp } from './engine.js';
import { buildImages, IMAGE_DEFINITIONS, type ImageName } from './images.js';
import { log } from './util.js';

// npm run containers:install | containers:up | containers:down | containers:build [nats rabbitmq …]
// (src/engine.ts, src/images.ts). Like brokers:up, `up` and `build` write only shell lines to
// stdout (`export NAME='value'`), so that `eval "$(npm run -s containers:up)"` and
// `eval "$(npm run -s containers:build)"` give the shell what the harness reads; logs go to stderr.

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
    default:
      log('usage: tsx integration-tests/src/containers-cli.ts install|up|down|build [nats rabbitmq]');
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
