/** The brokers the harness provides, in the order it prints them. */
export const BROKERS = ['kafka', 'rabbitmq', 'nats', 'sqs'] as const;
export type BrokerName = (typeof BROKERS)[number];

/**
 * The schema registry server every run starts beside the brokers (Apicurio Registry, its
 * Confluent-compatible API; see src/schema-registry.ts). Not a broker: no transport, no container,
 * never in `BROKERS`; `CARRIER_TEST_ONLY` names it as `schema-registry`.
 */
export const SCHEMA_REGISTRY = 'schema-registry';
export type SchemaRegistryName = typeof SCHEMA_REGISTRY;

/**
 * The PostgreSQL server every full run starts beside the brokers (the outbox and inbox of
 * @carrier/outbox keep their tables in it; see src/postgres.ts). Not a broker: no transport, never
 * in `BROKERS`; `CARRIER_TEST_ONLY` names it as `postgres`.
 */
export const POSTGRES = 'postgres';
export type PostgresName = typeof POSTGRES;

/** Every server the local-process provider runs: the brokers, the schema registry and PostgreSQL. */
export type ServerName = BrokerName | SchemaRegistryName | PostgresName;

/** The servers the testcontainers provider can run: the brokers and PostgreSQL. */
export type ContainerName = BrokerName | PostgresName;

/** Carrier URLs of the running brokers, one per broker (see README.md for the formats). */
export interface BrokerUrls {
  /** `kafka://127.0.0.1:<port>` */
  kafka: string;
  /** `amqp://guest:guest@127.0.0.1:<port>` */
  rabbitmq: string;
  /** `nats://127.0.0.1:<port>` */
  nats: string;
  /** `sqs://127.0.0.1:<port>?region=us-east-1` (endpoint `http://127.0.0.1:<port>`) */
  sqs: string;
}

export type ProviderKind = 'env' | 'testcontainers' | 'local-process';

/** How to (re)start one local broker process: everything a fault hook in a test worker needs. */
export interface ProcessSpec {
  command: string;
  args: string[];
  /** Added to the parent's environment. */
  env: Record<string, string>;
  cwd: string;
  /**
   * Run as this OS user and group (numeric ids; the harness as root runs PostgreSQL as the
   * `postgres` user, since PostgreSQL refuses to run as root). Absent: the harness's own user.
   */
  uid?: number;
  gid?: number;
}

/** One broker started as a local process; persisted as JSON so that other processes can control it. */
export interface LocalBrokerRecord {
  name: ServerName;
  url: string;
  version: string;
  dataDir: string;
  logFile: string;
  /** Process group id (= pid of the spawned process, which leads its own group). */
  pid: number;
  spec: ProcessSpec;
  ports: Record<string, number>;
  /** Commands run after the process group is gone at teardown (e.g. stopping RabbitMQ's private epmd). */
  cleanup: ProcessSpec[];
  /**
   * A graceful stop sends this signal to the group's leader only (PostgreSQL: `SIGINT`, its "fast
   * shutdown"); absent: SIGTERM to the whole group.
   */
  stopSignal?: NodeJS.Signals;
}

/** What one run of the harness (a vitest run or `brokers:up`) uses per broker. */
export interface BrokerEntry {
  name: BrokerName;
  provider: ProviderKind;
  url: string;
  version: string;
  /** For local processes: the JSON file holding the LocalBrokerRecord. */
  recordFile?: string;
  /** True when this run started the broker (and so stops it at teardown). */
  owned: boolean;
  /** For containers (testcontainers provider): which one, on which engine. */
  container?: ContainerRef;
}

/** A container the harness started, and the engine that runs it. */
export interface ContainerRef {
  id: string;
  /** `unix:///…/docker.sock` or `unix:///…/podman.sock` (DOCKER_HOST when it started). */
  dockerHost: string;
}

/** What one run of the harness uses as its schema registry. */
export interface SchemaRegistryEntry {
  provider: 'env' | 'local-process';
  /** The Confluent-compatible base URL, e.g. `http://127.0.0.1:<port>/apis/ccompat/v7`. */
  url: string;
  version: string;
  /** For a local process: the JSON file holding its LocalBrokerRecord. */
  recordFile?: string;
  /** True when this run started it (and so stops it at teardown). */
  owned: boolean;
}

/** What one run of the harness uses as its PostgreSQL server. */
export interface PostgresEntry {
  provider: ProviderKind;
  /** `postgres://carrier@127.0.0.1:<port>/postgres` (a container's URL carries its password). */
  url: string;
  version: string;
  /** For a local process: the JSON file holding its LocalBrokerRecord. */
  recordFile?: string;
  /** True when this run started it (and so stops it at teardown). */
  owned: boolean;
  /** For a container (testcontainers provider): which one, on which engine. */
  container?: ContainerRef;
}

export interface HarnessState {
  pid: number;
  startedAt: string;
  brokers: Partial<Record<BrokerName, BrokerEntry>>;
  /** Absent when the run did not start one (`CARRIER_TEST_ONLY` without `schema-registry`). */
  schemaRegistry?: SchemaRegistryEntry;
  /** Absent when the run did not start one (`CARRIER_TEST_ONLY` without `postgres`). */
  postgres?: PostgresEntry;
}
