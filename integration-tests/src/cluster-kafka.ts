import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import getPort from 'get-port';
import { Kafka, logLevel } from 'kafkajs';
import type { ClusterKind, ClusterNode, PreparedNode } from './cluster.js';
import { kafkaInstall } from './install.js';
import { run } from './util.js';
import { kafkaPin } from './versions.js';

// Kafka (KRaft) as three combined broker+controller nodes with one controller quorum.
//
// The quorum is STATIC (`controller.quorum.voters=1@…,2@…,3@…`, every node's storage formatted with
// the same cluster id and no `--standalone`), although the single node of src/local.ts uses Kafka 4's
// dynamic quorum (KIP-853). A dynamic quorum of three needs either `--initial-controllers` with each
// node's directory id fixed before formatting, or one standalone node plus two `add-controller`
// calls after start-up; the static list gives the same three voters with one format per node and
// no start-up ordering, and the test never changes the membership. Kafka 4.x still supports it
// (kraft.version 0). With three voters, one node down leaves a majority: the controller quorum
// survives any single kill.
//
// Durable settings (issue 20): default replication factor 3, `min.insync.replicas=2`,
// `unclean.leader.election.enable=false`, every internal topic with RF 3 (and min ISR 2).

const HOST = '127.0.0.1';

function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

async function prepare(dir: string): Promise<{ url: string; nodes: PreparedNode[] }> {
  const pin = kafkaPin();
  const k = kafkaInstall(pin);
  if (!k) throw new Error(`Kafka ${pin.version} is not installed: run \`npm run brokers:install\``);
  const ports: { broker: number; controller: number }[] = [];
  for (let i = 0; i < 3; i++) {
    ports.push({ broker: await getPort({ host: HOST }), controller: await getPort({ host: HOST }) });
  }
  const voters = ports.map((p, i) => `${i + 1}@${HOST}:${p.controller}`).join(',');
  const id = clusterId();
  const jvm = [
    '-Xms128m',
    '-Xmx384m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    '-cp',
    k.classpath,
  ];
  const nodes: PreparedNode[] = [];
  for (const [i, p] of ports.entries()) {
    const nodeDir = path.join(dir, `kafka-${i + 1}`);
    mkdirSync(nodeDir, { recursive: true });
    const props = path.join(nodeDir, 'server.properties');
    writeFileSync(
      props,
      [
        'process.roles=broker,controller',
        `node.id=${i + 1}`,
        `listeners=PLAINTEXT://${HOST}:${p.broker},CONTROLLER://${HOST}:${p.controller}`,
        `advertised.listeners=PLAINTEXT://${HOST}:${p.broker}`,
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
        'controller.listener.names=CONTROLLER',
        'inter.broker.listener.name=PLAINTEXT',
        `controller.quorum.voters=${voters}`,
        `log.dirs=${path.join(nodeDir, 'data')}`,
        'num.partitions=1',
        'default.replication.factor=3',
        'min.insync.replicas=2',
        'unclean.leader.election.enable=false',
        'auto.create.topics.enable=true',
        'delete.topic.enable=true',
        'group.initial.rebalance.delay.ms=0',
        // a killed node is fenced (its partitions get new leaders) after 4 s instead of 9
        'broker.session.timeout.ms=4000',
        'broker.heartbeat.interval.ms=500',
        'offsets.topic.replication.factor=3',
        'offsets.topic.num.partitions=3',
        'transaction.state.log.replication.factor=3',
        'transaction.state.log.min.isr=2',
        'transaction.state.log.num.partitions=1',
        'share.coordinator.state.topic.replication.factor=3',
        'share.coordinator.state.topic.min.isr=2',
        'share.coordinator.state.topic.num.partitions=1',
        '',
      ].join('\n'),
    );
    nodes.push({
      name: String(i + 1),
      url: `kafka://${HOST}:${p.broker}`,
      record: {
        name: 'kafka',
        url: `kafka://${HOST}:${p.broker}`,
        version: `Kafka ${k.version}`,
        dataDir: nodeDir,
        logFile: path.join(nodeDir, 'kafka.log'),
        spec: { command: k.java, args: [...jvm, 'kafka.Kafka', props], env: {}, cwd: nodeDir },
        ports: { broker: p.broker, controller: p.controller },
        cleanup: [],
      },
    });
  }
  // format every node's storage (the same cluster id, the static voters of its properties) at once
  await Promise.all(
    nodes.map((n) =>
      run(k.java, [...jvm, 'kafka.tools.StorageTool', 'format', '-t', id, '-c', n.record.spec.args.at(-1)!]),
    ),
  );
  return { url: `kafka://${ports.map((p) => `${HOST}:${p.broker}`).join(',')}`, nodes };
}

/** Runs `f` with an admin client bootstrapped from `nodes` (short timeouts, no retries). */
async function withAdmin<T>(
  nodes: readonly ClusterNode[],
  f: (admin: ReturnType<Kafka['admin']>) => Promise<T>,
): Promise<T> {
  if (nodes.length === 0) throw new Error('no reachable node');
  const kafka = new Kafka({
    clientId: 'carrier-harness-cluster',
    brokers: nodes.map((n) => n.url.replace(/^kafka:\/\//, '')),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1500,
    requestTimeout: 4000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    return await f(admin);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function members(nodes: readonly ClusterNode[]): Promise<string[]> {
  return withAdmin(nodes, async (admin) => {
    const { brokers } = await admin.describeCluster();
    return brokers.map((b) => String(b.nodeId)).sort();
  });
}

async function leaderOf(nodes: readonly ClusterNode[], target: string): Promise<string> {
  const m = /^(.*):(\d+)$/.exec(target);
  const topic = m ? m[1]! : target;
  const partition = m ? Number(m[2]) : 0;
  return withAdmin(nodes, async (admin) => {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const p = topics[0]?.partitions.find((x) => x.partitionId === partition);
    if (!p) throw new Error(`no partition ${partition} of ${topic}`);
    if (p.leader < 0) throw new Error(`partition ${partition} of ${topic} has no leader`);
    return String(p.leader);
  });
}

async function healthy(nodes: readonly ClusterNode[]): Promise<void> {
  await withAdmin(nodes, async (admin) => {
    const { brokers, controller } = await admin.describeCluster();
    if (brokers.length !== nodes.length) throw new Error(`${brokers.length} brokers registered`);
    if (controller === null || controller < 0) throw new Error('no active controller');
    const { topics } = await admin.fetchTopicMetadata();
    for (const t of topics) {
      for (const p of t.partitions) {
        if (p.isr.length < p.replicas.length)
          throw new Error(`${t.name}-${p.partitionId}: ISR ${p.isr.join(',')} of ${p.replicas.join(',')}`);
      }
    }
  });
}

/** Kafka's parts of a three-node cluster (src/cluster.ts). */
export const kafkaCluster: ClusterKind = { prepare, members, leaderOf, healthy };
