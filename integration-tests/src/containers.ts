import type { StartedTestContainer } from 'testcontainers';
import { buildImage, IMAGE_DEFINITIONS, type ImageName } from './images.js';
import { POSTGRES_SETTINGS, POSTGRES_USER } from './postgres.js';
import { type ContainerRef, containerLabels, trackContainer, untrackContainer } from './registry.js';
import type { ContainerName } from './types.js';

// The testcontainers provider: used for a broker when a container engine answers and its image is
// there (or can be pulled). Images: the official ones below, or CARRIER_TEST_<BROKER>_IMAGE (any
// image the module can drive; `local` = the one this checkout builds, src/images.ts). Containers
// are removed at teardown; testcontainers' reaper (Ryuk) may be off (podman: it cannot be pulled),
// so every container is also in the harness registry (src/registry.ts), which removes containers
// whose run is gone.

export const DEFAULT_IMAGES: Record<ContainerName, string> = {
  // @testcontainers/kafka 11 drives Confluent images; cp-kafka 8.x is Kafka 4.x in KRaft mode
  kafka: 'confluentinc/cp-kafka:8.0.0',
  rabbitmq: 'rabbitmq:4.1',
  nats: 'nats:2.11',
  sqs: 'localstack/localstack:4.4',
  // the official image, driven by @testcontainers/postgresql
  postgres: 'postgres:17',
};

export const IMAGE_ENV: Record<ContainerName, string> = {
  kafka: 'CARRIER_TEST_KAFKA_IMAGE',
  rabbitmq: 'CARRIER_TEST_RABBITMQ_IMAGE',
  nats: 'CARRIER_TEST_NATS_IMAGE',
  sqs: 'CARRIER_TEST_SQS_IMAGE',
  postgres: 'CARRIER_TEST_POSTGRES_IMAGE',
};

/** The image for a broker: CARRIER_TEST_<BROKER>_IMAGE (`local`: built here), else the official one. */
export async function imageFor(name: ContainerName): Promise<string> {
  const v = process.env[IMAGE_ENV[name]];
  if (v !== 'local') return v || DEFAULT_IMAGES[name];
  if (!(name in IMAGE_DEFINITIONS)) {
    throw new Error(`${IMAGE_ENV[name]}=local: no local image definition for ${name} yet (images/)`);
  }
  return (await buildImage(name as ImageName)).tag;
}

let runtime: Promise<string | undefined> | undefined;

/** Why no container engine can be used, or undefined when one answers. */
export function containerRuntimeProblem(): Promise<string | undefined> {
  runtime ??= (async () => {
    try {
      const { getContainerRuntimeClient } = await import('testcontainers');
      await getContainerRuntimeClient();
      return undefined;
    } catch (err) {
      return `no container engine answers (${(err as Error).message.split('\n')[0]})`;
    }
  })();
  return runtime;
}

/** Whether a container engine answers (getContainerRuntimeClient throws when none does). */
export async function containerRuntimeAvailable(): Promise<boolean> {
  return (await containerRuntimeProblem()) === undefined;
}

/** Undefined when the engine has `image` or pulled it now; else why not (e.g. no registry reachable). */
export async function imageProblem(image: string): Promise<string | undefined> {
  const { getContainerRuntimeClient, ImageName: Name } = await import('testcontainers');
  const client = await getContainerRuntimeClient();
  const ref = Name.fromString(image);
  if (await client.image.exists(ref)) return undefined;
  let failure = 'no error reported: is an image registry reachable?';
  try {
    // testcontainers 11 resolves even when the pull fails inside the stream: look again after it
    await client.image.pull(ref);
  } catch (err) {
    failure = (err as Error).message.split('\n')[0] ?? failure;
  }
  if (await client.image.exists(ref)) return undefined;
  return `image ${image} is not in the engine and could not be pulled (${failure})`;
}

export interface StartedContainerBroker {
  url: string;
  version: string;
  container: StartedTestContainer;
}

export interface ContainerOptions {
  /** Outlives this process (brokers:up): no reaper session label, registered as persistent. */
  persistent?: boolean;
}

type Generic = import('testcontainers').GenericContainer;

/** Settings every broker container gets. */
function common<T extends Generic>(c: T, options: ContainerOptions): T {
  // slow, shared machines: a RabbitMQ node boots in 10-30 s there (the modules allow 30 s or less)
  c.withStartupTimeout(180_000).withLabels(containerLabels(options.persistent ?? false));
  if (options.persistent) c.withAutoCleanup(false);
  return c;
}

async function startOne(
  name: ContainerName,
  image: string,
  o: ContainerOptions,
): Promise<[StartedTestContainer, string]> {
  switch (name) {
    case 'kafka': {
      if (isLocalImage(image, 'kafka')) return startLocalKafka(image, o);
      const { KafkaContainer } = await import('@testcontainers/kafka');
      const kafka = new KafkaContainer(image).withKraft().withEnvironment({
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'true',
      });
      const c = await common(kafka, o).start();
      return [c, `kafka://${c.getHost()}:${c.getMappedPort(9093)}`];
    }
    case 'rabbitmq': {
      const { RabbitMQContainer } = await import('@testcontainers/rabbitmq');
      // the server's defaults as users get them: RabbitMQ 4.x takes messages up to 16 MiB (3.x:
      // 128 MiB), and the specs expect the default of the version they find (src/probes.ts)
      const c = await common(new RabbitMQContainer(image), o).start();
      // the module's getAmqpUrl() has no login: the harness's URLs always carry it (and redact it)
      return [c, `amqp://guest:guest@${c.getHost()}:${c.getMappedPort(5672)}`];
    }
    case 'nats': {
      const { NatsContainer } = await import('@testcontainers/nats');
      const c = await common(new NatsContainer(image).withJetStream(), o).start();
      // the module starts the server with `--user test --pass test` (its defaults): the URL says so
      const { user, pass } = c.getConnectionOptions();
      const login = user ? `${encodeURIComponent(user)}:${encodeURIComponent(pass ?? '')}@` : '';
      return [c, `nats://${login}${c.getHost()}:${c.getMappedPort(4222)}`];
    }
    case 'sqs': {
      if (isLocalImage(image, 'sqs')) {
        // moto's server (images/sqs/): plain HTTP on 4566, no LocalStack health endpoint
        const { GenericContainer, Wait } = await import('testcontainers');
        const moto = new GenericContainer(image)
          .withExposedPorts(4566)
          .withWaitStrategy(Wait.forLogMessage(/Running on http/));
        const c = await common(moto, o).start();
        return [c, `sqs://${c.getHost()}:${c.getMappedPort(4566)}?region=us-east-1`];
      }
      const { LocalstackContainer } = await import('@testcontainers/localstack');
      const ls = new LocalstackContainer(image).withEnvironment({ SERVICES: 'sqs,sns' });
      const c = await common(ls, o).start();
      return [c, `sqs://${c.getHost()}:${c.getPort()}?region=us-east-1`];
    }
    case 'postgres': {
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
      // the image's entrypoint needs a password; the local process's settings (src/postgres.ts)
      const settings = Object.entries(POSTGRES_SETTINGS)
        .filter(([k]) => k !== 'listen_addresses' && k !== 'unix_socket_permissions')
        .flatMap(([k, v]) => ['-c', `${k}=${v}`]);
      const pgc = new PostgreSqlContainer(image)
        .withUsername(POSTGRES_USER)
        .withPassword(POSTGRES_USER)
        .withDatabase('postgres')
        .withCommand(['postgres', ...settings]);
      const c = await common(pgc, o).start();
      return [
        c,
        `postgres://${POSTGRES_USER}:${POSTGRES_USER}@${c.getHost()}:${c.getMappedPort(5432)}/postgres`,
      ];
    }
  }
}

/** Whether `image` is this checkout's own image of `name` (src/images.ts tags them so). */
function isLocalImage(image: string, name: ImageName): boolean {
  return image.startsWith(`localhost/carrier-${name}:`);
}

/**
 * The local Kafka image (images/kafka/): a broker advertises the address clients must use, and the
 * host side of a port mapping is known only after the start. testcontainers' Kafka module solves
 * this for Confluent images by writing the start script once the container runs; the local image
 * instead listens on the port it is told (KAFKA_PORT) and the host maps that same free port, so
 * the advertised `127.0.0.1:<port>` is right inside and outside (the host override is loopback).
 */
async function startLocalKafka(image: string, o: ContainerOptions): Promise<[StartedTestContainer, string]> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const { default: getPort } = await import('get-port');
  const port = await getPort({ host: '127.0.0.1' });
  const host = process.env.TESTCONTAINERS_HOST_OVERRIDE || '127.0.0.1';
  const kafka = new GenericContainer(image)
    .withEnvironment({ KAFKA_PORT: String(port), KAFKA_ADVERTISED_HOST: host })
    .withExposedPorts({ container: port, host: port })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/));
  const c = await common(kafka, o).start();
  return [c, `kafka://${host}:${port}`];
}

/** Starts `name` in a container of `image` and registers it (src/registry.ts). */
export async function startContainer(
  name: ContainerName,
  image: string,
  options: ContainerOptions = {},
): Promise<StartedContainerBroker> {
  const [container, url] = await startOne(name, image, options);
  trackContainer(name, containerRef(container), url, { persistent: options.persistent ?? false });
  return { url, version: image, container };
}

export function containerRef(c: StartedTestContainer): ContainerRef {
  return { id: c.getId(), dockerHost: process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock' };
}

/** A container of a spec's own with a fixed host port, so that its URL survives a restart. */
export interface PrivateContainer {
  url: string;
  /** Graceful stop (up to 20 s) and start of the same container (same data, same port). */
  restart(): Promise<void>;
  /** Removes it. */
  dispose(): Promise<void>;
}

/**
 * Starts a private RabbitMQ or NATS container (the contract suite's reconnect case on the
 * testcontainers provider): the broker keeps its data and port across `restart()`.
 */
export async function privateContainer(name: 'rabbitmq' | 'nats', image: string): Promise<PrivateContainer> {
  const { default: getPort } = await import('get-port');
  const port = await getPort({ host: '127.0.0.1' });
  const inner = name === 'rabbitmq' ? 5672 : 4222;
  let c: StartedTestContainer;
  let url: string;
  if (name === 'rabbitmq') {
    const { RabbitMQContainer } = await import('@testcontainers/rabbitmq');
    c = await common(
      new RabbitMQContainer(image).withExposedPorts({ container: inner, host: port }),
      {},
    ).start();
    url = `amqp://guest:guest@${c.getHost()}:${port}`;
  } else {
    const { NatsContainer } = await import('@testcontainers/nats');
    const nats = new NatsContainer(image).withJetStream();
    c = await common(nats.withExposedPorts({ container: inner, host: port }), {}).start();
    url = `nats://test:test@${c.getHost()}:${port}`;
  }
  const ref = containerRef(c);
  trackContainer(name, ref, url);
  return {
    url,
    restart: () => c.restart({ timeout: 20_000 }),
    async dispose() {
      await c.stop();
      untrackContainer(ref.id);
    },
  };
}
