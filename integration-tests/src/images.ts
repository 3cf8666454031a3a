import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { engineCli } from './engine.js';
import { ensureInstalled } from './harness.js';
import { natsServer } from './install.js';
import { withLock } from './lock.js';
import { harnessRoot, kafkaDir, motoLauncher, sqsRequirements } from './paths.js';
import { log, run, seconds } from './util.js';
import { KAFKA_PINS } from './versions.js';

// Broker images built on this machine from package registries (no image registry needed), for the
// testcontainers provider. Each definition is a folder images/<name>/ with a build.sh that makes
// a root filesystem and imports it into the engine (`podman import`/`docker import`). An image is
// tagged `localhost/carrier-<name>:<hash>`, the hash covering its folder and its inputs (the
// nats-server binary), so the engine's image store is the cache: an image is rebuilt only when
// its definition changes. `npm run containers:build`; `CARRIER_TEST_<BROKER>_IMAGE=local` makes
// the harness use (and build when missing) the image of this checkout.

export type ImageName = 'nats' | 'rabbitmq' | 'kafka' | 'sqs';

interface ImageDefinition {
  /** The harness variable that selects it. */
  envVar: string;
  /** What the tag's hash covers besides images/<name>/ (file paths), resolved at build time. */
  inputs(): Promise<Record<string, string>>;
  /** Roughly what a cold build costs (printed before it starts). */
  cost: string;
}

export const IMAGE_DEFINITIONS: Record<ImageName, ImageDefinition> = {
  nats: {
    envVar: 'CARRIER_TEST_NATS_IMAGE',
    async inputs() {
      await ensureInstalled('nats');
      const server = natsServer();
      if (!server) throw new Error('nats-server is missing: run `npm run brokers:install`');
      return { NATS_SERVER: server };
    },
    cost: 'a few seconds',
  },
  rabbitmq: {
    envVar: 'CARRIER_TEST_RABBITMQ_IMAGE',
    async inputs() {
      return {};
    },
    cost: 'a few minutes (debootstrap of Debian trixie with rabbitmq-server and Erlang)',
  },
  kafka: {
    envVar: 'CARRIER_TEST_KAFKA_IMAGE',
    async inputs() {
      // the newest pinned line (start.sh sets up its dynamic KRaft quorum); the stamp is the hash of
      // the POM that pinned the jars, so a new pin makes a new image
      const pin = KAFKA_PINS[0];
      if (!pin) throw new Error('no Kafka pin in src/versions.ts');
      await ensureInstalled('kafka', pin.line);
      return { KAFKA_STAMP: path.join(kafkaDir(pin), 'stamp') };
    },
    cost: 'a few minutes (debootstrap of Debian trixie with a headless JRE, then the Kafka jars)',
  },
  sqs: {
    envVar: 'CARRIER_TEST_SQS_IMAGE',
    async inputs() {
      return { SQS_REQUIREMENTS: sqsRequirements, MOTO_LAUNCHER: motoLauncher };
    },
    cost: 'a few minutes (debootstrap of Debian trixie with python3, then moto from PyPI)',
  },
};

function imageDir(name: ImageName): string {
  return path.join(harnessRoot, 'images', name);
}

/** sha256 over every file of images/<name>/ (path and content) and the inputs' contents. */
function definitionHash(name: ImageName, inputs: Record<string, string>): string {
  const h = createHash('sha256');
  const dir = imageDir(name);
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)))
    .sort()) {
    h.update(`${f}\0`)
      .update(readFileSync(path.join(dir, f)))
      .update('\0');
  }
  for (const [k, file] of Object.entries(inputs).sort()) h.update(`${k}\0`).update(readFileSync(file));
  return h.digest('hex').slice(0, 16);
}

function engine(): string {
  const cli = engineCli();
  if (!cli) throw new Error('no podman or docker CLI: run `npm run containers:install` (or install Docker)');
  return cli;
}

export function imageExists(tag: string): boolean {
  return spawnSync(engine(), ['image', 'inspect', tag], { stdio: 'ignore' }).status === 0;
}

export interface BuiltImage {
  name: ImageName;
  envVar: string;
  tag: string;
  /** Whether this call built it (false: it was in the engine's image store). */
  built: boolean;
  ms: number;
}

/** Removes the other tags of localhost/carrier-<name> (earlier definitions); in-use ones stay. */
function pruneOld(name: ImageName, keep: string): void {
  const repo = `localhost/carrier-${name}`;
  const out = spawnSync(engine(), ['images', '--format', '{{.Repository}}:{{.Tag}}', repo], {
    encoding: 'utf8',
  });
  for (const tag of (out.stdout ?? '').split('\n').map((l) => l.trim())) {
    if (tag.startsWith(`${repo}:`) && tag !== keep) spawnSync(engine(), ['rmi', tag], { stdio: 'ignore' });
  }
}

/** The tag of this checkout's image `name`, built first when the engine does not have it. */
export async function buildImage(name: ImageName): Promise<BuiltImage> {
  const def = IMAGE_DEFINITIONS[name];
  const inputs = await def.inputs();
  const tag = `localhost/carrier-${name}:${definitionHash(name, inputs)}`;
  const t0 = Date.now();
  if (imageExists(tag)) return { name, envVar: def.envVar, tag, built: false, ms: 0 };
  return withLock(`image-${name}`, async () => {
    if (imageExists(tag)) return { name, envVar: def.envVar, tag, built: false, ms: Date.now() - t0 };
    log(`[containers] building ${tag} from images/${name}/ (${def.cost})`);
    await run(path.join(imageDir(name), 'build.sh'), [], {
      env: { ...process.env, ENGINE: engine(), TAG: tag, ...inputs },
      prefix: `[containers] ${name}:`,
    });
    const size = spawnSync(engine(), ['image', 'inspect', '--format', '{{.Size}}', tag], {
      encoding: 'utf8',
    });
    const mb = Math.round(Number(size.stdout?.trim()) / 1e6);
    const ms = Date.now() - t0;
    log(`[containers] built ${tag} in ${seconds(ms)} s (${mb} MB)`);
    pruneOld(name, tag);
    return { name, envVar: def.envVar, tag, built: true, ms };
  });
}

/** Builds (or finds) several images one after the other and prints one line each. */
export async function buildImages(names: ImageName[]): Promise<BuiltImage[]> {
  const built: BuiltImage[] = [];
  for (const name of names) {
    const b = await buildImage(name);
    if (!b.built) log(`[containers] ${b.tag}: cached in the engine's image store`);
    built.push(b);
  }
  return built;
}
