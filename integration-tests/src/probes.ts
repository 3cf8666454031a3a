import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import amqp from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import type { ServerName } from './types.js';
import { awsCredentials, kafkaBrokers, natsConnectOptions, sqsEndpoint } from './urls.js';

/**
 * One real protocol round trip against a broker: resolves when the broker answers, with the
 * server version when the protocol tells it. Rejects otherwise (no retries here: see pollUntil).
 */
export async function probe(name: ServerName, url: string): Promise<{ version?: string }> {
  switch (name) {
    case 'kafka':
      return probeKafka(url);
    case 'rabbitmq':
      return probeRabbit(url);
    case 'nats':
      return probeNats(url);
    case 'sqs':
      return probeSqs(url);
    case 'schema-registry':
      return probeSchemaRegistry(url);
    case 'postgres':
      return probePostgres(url);
  }
}

/** A connection and `SHOW server_version` (e.g. `15.14 (Debian 15.14-0+deb12u1)`: its first word). */
async function probePostgres(url: string): Promise<{ version?: string }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000, query_timeout: 5000 });
  // an error after connect (the server going away) must not be an uncaught 'error' event
  client.on('error', () => {});
  try {
    await client.connect();
    const r = await client.query<{ server_version: string }>('SHOW server_version');
    const version = r.rows[0]?.server_version.split(' ')[0];
    return version ? { version } : {};
  } finally {
    await client.end().catch(() => {});
  }
}

/** A metadata request on the broker listener. */
async function probeKafka(url: string): Promise<{ version?: string }> {
  const kafka = new Kafka({
    clientId: 'carrier-harness-probe',
    brokers: kafkaBrokers(url),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0) throw new Error('metadata lists no broker');
    return {};
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** An AMQP 0-9-1 connection and a channel. */
async function probeRabbit(url: string): Promise<{ version?: string }> {
  const conn = await amqp.connect(url, { timeout: 3000 });
  try {
    const ch = await conn.createChannel();
    await ch.close();
    const version = conn.connection.serverProperties.version;
    return typeof version === 'string' ? { version } : {};
  } finally {
    await conn.close().catch(() => {});
  }
}

/**
 * The `max_message_size` default of the RabbitMQ server at `url` (from its `version` property): 128
 * MiB on 3.8–3.13, 16 MiB from 4.0 (docs/brokers/rabbitmq.md, "Limits"). The harness runs servers
 * with their defaults; the RabbitMQ contract specs expect the adapter to declare this.
 */
export async function rabbitmqDefaultMaxMessageBytes(url: string): Promise<number> {
  const { version } = await probeRabbit(url);
  const major = Number(version?.split('.')[0]);
  if (!Number.isInteger(major)) throw new Error(`RabbitMQ at ${url} reports no version`);
  return (major >= 4 ? 16 : 128) * 1024 * 1024;
}

/** A connection and JetStream account info. */
async function probeNats(url: string): Promise<{ version?: string }> {
  const nc = await natsConnect({ ...natsConnectOptions(url), timeout: 2000, reconnect: false });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 3000 });
    await jsm.getAccountInfo();
    return { version: nc.info?.version };
  } finally {
    await nc.close().catch(() => {});
  }
}

/** SQS ListQueues. */
async function probeSqs(url: string): Promise<{ version?: string }> {
  const { endpoint, region } = sqsEndpoint(url);
  const client = new SQSClient({ endpoint, region, credentials: awsCredentials(), maxAttempts: 1 });
  try {
    await client.send(new ListQueuesCommand({}), { abortSignal: AbortSignal.timeout(5000) });
    return {};
  } finally {
    client.destroy();
  }
}

/**
 * The schema registry's Confluent-compatible `GET /subjects` (a JSON array), then the server's
 * version from Apicurio's own `GET /apis/registry/v2/system/info` (absent from other registries).
 * A login in the URL (`https://user:pass@…`) goes as HTTP basic auth and is never in an error.
 */
export async function probeSchemaRegistry(url: string): Promise<{ version?: string }> {
  const u = new URL(url);
  const headers: Record<string, string> = {};
  if (u.username) {
    const login = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
    headers.authorization = `Basic ${Buffer.from(login).toString('base64')}`;
    u.username = '';
    u.password = '';
  }
  const base = u.toString().replace(/\/+$/, '');
  const res = await fetch(`${base}/subjects`, { headers, signal: AbortSignal.timeout(5000) });
  const body: unknown = await res.json().catch(() => undefined);
  if (res.status !== 200 || !Array.isArray(body))
    throw new Error(`GET ${base}/subjects answered ${res.status}, not a JSON array of subjects`);
  const info = await fetch(`${u.origin}/apis/registry/v2/system/info`, {
    headers,
    signal: AbortSignal.timeout(5000),
  })
    .then((r) => (r.ok ? (r.json() as Promise<{ name?: unknown; version?: unknown }>) : undefined))
    .catch(() => undefined);
  if (typeof info?.version !== 'string') return {};
  return { version: typeof info.name === 'string' ? `${info.name} ${info.version}` : info.version };
}
