// The broker versions the local-process provider runs: every one pinned here or in the file named
// (integration-tests/README.md, "Broker versions"). Each broker with a version matrix has a default
// line (what every spec runs on) and a second, older line that its *-<line>.contract.spec.ts runs the
// quick contract profile on. `CARRIER_TEST_NATS_VERSION` / `CARRIER_TEST_KAFKA_VERSION` pick the
// line of the run's shared brokers (default: the first of each list).

/** One pinned nats-server release, built from the Go module proxy into its own folder. */
export interface NatsPin {
  /** The line a spec or `CARRIER_TEST_NATS_VERSION` names, e.g. `2.10`. */
  readonly line: string;
  /** The module version `go install` builds, e.g. `v2.10.27`. */
  readonly version: string;
}

/** One pinned Kafka release: its own POM (which pins the jars) and its own libs folder. */
export interface KafkaPin {
  /** The line a spec or `CARRIER_TEST_KAFKA_VERSION` names, e.g. `3.9`. */
  readonly line: string;
  /** `kafka.version` of the POM (checked against the installed jar). */
  readonly version: string;
  /**
   * Its folder: `brokers/<folder>/pom.xml` is the POM Maven resolves the broker jars from (it pins
   * them); `brokers:install` copies them to `.brokers/<folder>/libs`, with a stamp of the POM's hash.
   */
  readonly folder: string;
  /**
   * How the single node's KRaft quorum is set up: `dynamic` (Kafka 4: `controller.quorum.bootstrap.servers`
   * and `StorageTool format --standalone`, KIP-853) or `static` (Kafka 3.9: `controller.quorum.voters`,
   * format without `--standalone`, the setup of every 3.x KRaft release).
   */
  readonly quorum: 'dynamic' | 'static';
}

/** nats-server, newest first: the Go module proxy's newest release and the last 2.10 one. */
export const NATS_SERVER_PINS: readonly NatsPin[] = [
  { line: '2.15', version: 'v2.15.3' },
  { line: '2.10', version: 'v2.10.27' },
];

/** natscli (`nats`, for the interop specs). */
export const NATSCLI_VERSION = 'v0.5.1';

/** Kafka (KRaft, no ZooKeeper), newest first. */
export const KAFKA_PINS: readonly KafkaPin[] = [
  {
    line: '4.4',
    version: '4.4.0',
    folder: 'kafka',
    quorum: 'dynamic',
  },
  {
    line: '3.9',
    version: '3.9.2',
    folder: 'kafka-3.9',
    quorum: 'static',
  },
];

/** Environment variables choosing the line of the run's shared brokers. */
export const VERSION_ENV = {
  nats: 'CARRIER_TEST_NATS_VERSION',
  kafka: 'CARRIER_TEST_KAFKA_VERSION',
} as const;

function pick<P extends { line: string; version: string }>(
  pins: readonly P[],
  env: string,
  line: string | undefined,
): P {
  // an empty (or blank) variable is unset: `CARRIER_TEST_NATS_VERSION= npm test` runs the newest
  const fromEnv = process.env[env]?.trim() || undefined;
  const wanted = (line ?? fromEnv ?? pins[0]!.line).trim();
  const pin = pins.find((p) => p.line === wanted || p.version.replace(/^v/, '') === wanted.replace(/^v/, ''));
  if (!pin) {
    const known = pins.map((p) => `${p.line} (${p.version})`).join(', ');
    const asked = line === undefined ? `${env}=${wanted}` : `the version ${wanted} a spec asked for`;
    throw new Error(`${asked}: the harness pins only ${known} (integration-tests/src/versions.ts)`);
  }
  return pin;
}

/** The nats-server pin for `line` (e.g. `2.10`), else `CARRIER_TEST_NATS_VERSION`, else the newest. */
export function natsPin(line?: string): NatsPin {
  return pick(NATS_SERVER_PINS, VERSION_ENV.nats, line);
}

/** The Kafka pin for `line` (e.g. `3.9`), else `CARRIER_TEST_KAFKA_VERSION`, else the newest. */
export function kafkaPin(line?: string): KafkaPin {
  return pick(KAFKA_PINS, VERSION_ENV.kafka, line);
}

/**
 * The schema registry server: Apicurio Registry, built by `brokers:install` from `pom` (which pins
 * it and the Quarkus release it is built on) into `.brokers/<folder>/`. 2.4.2.Final is the newest
 * Apicurio whose modules all resolve from the Maven Central this project reaches (the POM says why).
 */
export const SCHEMA_REGISTRY_PIN = {
  /** `apicurio.version` of the POM (checked against it at install). */
  version: '2.4.2.Final',
  /** `brokers/<folder>/pom.xml` pins it; `.brokers/<folder>/` holds the built app and its stamp. */
  folder: 'schema-registry',
  /** The path of the Confluent-compatible API (Confluent Schema Registry v7) on the server. */
  confluentApiPath: '/apis/ccompat/v7',
} as const;
