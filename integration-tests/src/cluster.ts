import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kafkaCluster } from './cluster-kafka.js';
import { natsCluster } from './cluster-nats.js';
import { rabbitmqCluster } from './cluster-rabbitmq.js';
import { ensureInstalled } from './harness.js';
import { killLocalSync, readRecord, spawnBroker, stopLocal, waitReady, writeRecord } from './local.js';
import { type TrackOptions, track, untrack } from './registry.js';
import type { LocalBrokerRecord } from './types.js';
import { groupAlive, killGroup, pollUntil, signalGroup } from './util.js';

// Three-node clusters of one broker kind on 127.0.0.1, for failover tests (issue 20):
//
//   const cluster = await startCluster('nats');
//   try {
//     const leader = await cluster.leaderOf('ORDERS');  // through the broker's own API
//     await cluster.kill(leader);                        // SIGKILL its process group
//     await cluster.leaderOf('ORDERS');                  // a new leader, once elected
//     await cluster.start(leader);                       // same ports, same data dir
//     await cluster.waitHealthy();                       // rejoined and caught up
//   } finally {
//     await cluster.close();
//   }
//
// Each node is a local process group with its own ports and data dir under the cluster's dir,
// described by a LocalBrokerRecord (JSON) like every harness broker and registered from the moment
// it is spawned (src/registry.ts), so that a worker that dies, or a test that times out before
// close(), leaves the nodes to the sweep. The broker-specific parts (configuration, formation,
// membership, leaders, health) are in cluster-kafka.ts, cluster-rabbitmq.ts and cluster-nats.ts.

/** The brokers the harness can run as a three-node cluster. */
export const CLUSTER_BROKERS = ['kafka', 'rabbitmq', 'nats'] as const;
export type ClusterBroker = (typeof CLUSTER_BROKERS)[number];

/** How many nodes a cluster has. */
export const CLUSTER_SIZE = 3;

/** One node of a cluster, as the broker-specific module prepares it. */
export interface PreparedNode {
  /** The node's name as the broker reports it: Kafka node id, RabbitMQ node name, NATS server name. */
  readonly name: string;
  /** The node's own Carrier URL (one host). */
  readonly url: string;
  /** Its record before it is spawned. */
  readonly record: Omit<LocalBrokerRecord, 'pid'>;
}

/** What a broker-specific module provides (the parts of a cluster that differ per broker). */
export interface ClusterKind {
  /** Writes the configuration of three nodes under `dir` and returns them and the cluster URL. */
  prepare(dir: string): Promise<{ url: string; nodes: PreparedNode[] }>;
  /** After every node answers on its own: join them into one cluster (RabbitMQ), if needed. */
  form?(nodes: readonly ClusterNode[]): Promise<void>;
  /** Names of the nodes the broker reports as running members, asked of the reachable `nodes`. */
  members(nodes: readonly ClusterNode[]): Promise<string[]>;
  /** Name of the node that leads `target` (see Cluster.leaderOf), asked of the reachable `nodes`. */
  leaderOf(nodes: readonly ClusterNode[], target: string): Promise<string>;
  /** Resolves when the cluster of `nodes` (all running) is healthy; rejects with why not. */
  healthy(nodes: readonly ClusterNode[]): Promise<void>;
}

const KINDS: Record<ClusterBroker, ClusterKind> = {
  kafka: kafkaCluster,
  rabbitmq: rabbitmqCluster,
  nats: natsCluster,
};

/** A node of a running cluster. */
export interface ClusterNode {
  /** 0, 1 or 2: its place in `Cluster.nodes` and in the URL's host list. */
  readonly index: number;
  /** Its name as the broker reports it: Kafka node id (`1`…`3`), RabbitMQ node name, NATS server name. */
  readonly name: string;
  /** Its own Carrier URL (this node's host only). */
  readonly url: string;
  /** Its ports by role (e.g. Kafka `broker`, `controller`; RabbitMQ `amqp`, `distribution`; NATS `client`, `cluster`, `http`). */
  readonly ports: Readonly<Record<string, number>>;
  /** Its data dir (configuration, data, log). */
  readonly dataDir: string;
  /** Its log file. */
  readonly logFile: string;
  /** The pid (= process group) it runs as now, or the last one. */
  pid(): number;
  /** Whether its process group runs (a paused node runs). */
  isRunning(): boolean;
  /** Whether it is paused (SIGSTOP) by `Cluster.pause`. */
  isPaused(): boolean;
}

/** A three-node cluster of one broker, started by `startCluster`. */
export interface Cluster {
  readonly broker: ClusterBroker;
  /**
   * The Carrier URL naming all three nodes: `kafka://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`,
   * `nats://…`, `amqp://guest:guest@127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`.
   */
  readonly url: string;
  readonly nodes: readonly ClusterNode[];
  /** The cluster's dir (one sub-dir per node); deleted by close(). */
  readonly dir: string;
  /** The node that accepted `ref` (a node, its index or its name). Throws for an unknown one. */
  node(ref: NodeRef): ClusterNode;
  /** Names of the running members as the broker itself reports them (asked of a reachable node). */
  members(): Promise<string[]>;
  /**
   * The node that leads `target`, found through the broker's own API, waiting (up to `timeoutMs`,
   * default 30 s) until there is one on a node that is running and not paused:
   * - Kafka: `target` is `topic` (partition 0) or `topic:partition`; the partition leader from the
   *   admin API's topic metadata.
   * - RabbitMQ: a quorum queue name (default vhost); its leader from `rabbitmqctl list_queues name leader`.
   * - NATS: a JetStream stream name; its `cluster.leader` from the stream info (`$JS.API.STREAM.INFO`).
   * With `notOn`, waits until the leader is on another node (after a failover).
   */
  leaderOf(target: string, options?: { notOn?: NodeRef; timeoutMs?: number }): Promise<ClusterNode>;
  /** SIGKILL the node's process group; resolves once it is gone. Its data dir is kept. */
  kill(node: NodeRef): Promise<void>;
  /** Graceful stop (SIGTERM, SIGKILL after 20 s); resolves once it is gone. Its data dir is kept. */
  stop(node: NodeRef): Promise<void>;
  /**
   * Starts a stopped or killed node again with the same ports, name and data dir; resolves when it
   * answers on its own port (waitHealthy for when it has rejoined). No-op when it runs.
   */
  start(node: NodeRef): Promise<void>;
  /** SIGSTOP the node's process group (a hung node: its sockets stay open, nothing answers). */
  pause(node: NodeRef): void;
  /** SIGCONT a paused node. */
  resume(node: NodeRef): void;
  /**
   * Resolves when every node runs, is not paused, and the broker reports all three as members and
   * healthy (Kafka: three registered brokers and every partition's ISR complete; RabbitMQ: three
   * running nodes; NATS: every server's `/healthz` and a JetStream meta group of three current
   * peers). Rejects after `timeoutMs` (default 120 s) with the last reason.
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every node (resuming paused ones is not needed), runs clean-ups, deletes the dir. */
  close(): Promise<void>;
}

/** A node, its index in `Cluster.nodes`, or its broker name. */
export type NodeRef = ClusterNode | number | string;

/** Options of `startCluster`. */
export interface ClusterOptions extends TrackOptions {
  /** Parent of the cluster's dir (default: the OS temp dir; a fresh `carrier-cluster-<broker>-*` dir in it). */
  parentDir?: string;
  /** How long the nodes may take to form a healthy cluster (default 180 s). */
  timeoutMs?: number;
}

/**
 * Starts a three-node cluster of `broker` on 127.0.0.1 (fresh ports and data dirs) and resolves
 * when it is healthy (see Cluster.waitHealthy). Runs `brokers:install` first if the local binaries
 * are missing. Heavy on a small machine: run one cluster at a time. Call close() in a `finally`.
 */
export async function startCluster(broker: ClusterBroker, options: ClusterOptions = {}): Promise<Cluster> {
  await ensureInstalled(broker);
  const kind = KINDS[broker];
  const parent = options.parentDir ?? os.tmpdir();
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(path.join(parent, `carrier-cluster-${broker}-`));
  const track: TrackOptions = { removeDir: dir, ...(options.persistent ? { persistent: true } : {}) };
  const { url, nodes: prepared } = await kind.prepare(dir);
  const nodes = prepared.map((p, index) => new Node(index, p, path.join(dir, `node-${index + 1}.json`)));
  const onExit = () => {
    for (const n of nodes) n.killSync();
    if (!options.persistent) rmSync(dir, { recursive: true, force: true });
  };
  if (!options.persistent) process.once('exit', onExit);
  const cluster = new RunningCluster(broker, kind, url, nodes, dir, () => process.off('exit', onExit));
  try {
    for (const n of nodes) n.spawn(track);
    await Promise.all(nodes.map((n) => n.waitReady()));
    await kind.form?.(nodes);
    await cluster.waitHealthy(options.timeoutMs ?? 180_000);
    return cluster;
  } catch (err) {
    await cluster.close();
    throw err;
  }
}

class Node implements ClusterNode {
  readonly name: string;
  readonly url: string;
  readonly ports: Readonly<Record<string, number>>;
  readonly dataDir: string;
  readonly logFile: string;
  #paused = false;

  constructor(
    readonly index: number,
    prepared: PreparedNode,
    readonly recordFile: string,
  ) {
    this.name = prepared.name;
    this.url = prepared.url;
    this.ports = prepared.record.ports;
    this.dataDir = prepared.record.dataDir;
    this.logFile = prepared.record.logFile;
    writeRecord(recordFile, { ...prepared.record, pid: 0 });
  }

  record(): LocalBrokerRecord {
    return readRecord(this.recordFile);
  }

  pid(): number {
    return this.record().pid;
  }

  isRunning(): boolean {
    return groupAlive(this.pid());
  }

  isPaused(): boolean {
    return this.#paused;
  }

  /** Spawns the node's process and registers it (a restart keeps the first registration's owner). */
  spawn(options: TrackOptions = {}): void {
    const record = this.record();
    record.pid = spawnBroker(record);
    writeRecord(this.recordFile, record);
    track(this.recordFile, record, options);
  }

  async waitReady(): Promise<void> {
    await waitReady(this.record());
  }

  async kill(): Promise<void> {
    await killGroup(this.pid());
    this.#paused = false;
  }

  async stop(): Promise<void> {
    if (this.#paused) this.resume();
    // the node only: RabbitMQ's epmd (shared by the three nodes) stays, like a system service
    await stopLocal({ ...this.record(), cleanup: [] });
  }

  pause(): void {
    signalGroup(this.pid(), 'SIGSTOP');
    this.#paused = true;
  }

  resume(): void {
    signalGroup(this.pid(), 'SIGCONT');
    this.#paused = false;
  }

  /** SIGKILL and clean-up (the shared epmd), synchronously; drops the registration. */
  killSync(): void {
    // pid 0 (never spawned) would make process.kill(-0) signal the caller's own process group
    if (existsSync(this.recordFile) && this.pid() > 0) killLocalSync(this.record());
    untrack(this.recordFile);
  }
}

class RunningCluster implements Cluster {
  constructor(
    readonly broker: ClusterBroker,
    readonly kind: ClusterKind,
    readonly url: string,
    readonly nodes: readonly Node[],
    readonly dir: string,
    readonly onClose: () => void,
  ) {}

  node(ref: NodeRef): Node {
    const found =
      typeof ref === 'number'
        ? this.nodes[ref]
        : typeof ref === 'string'
          ? this.nodes.find((n) => n.name === ref)
          : this.nodes[ref.index];
    if (!found) throw new Error(`cluster: no node ${typeof ref === 'object' ? ref.name : ref}`);
    return found;
  }

  /** Nodes that run and are not paused: the ones worth asking. */
  reachable(): Node[] {
    return this.nodes.filter((n) => !n.isPaused() && n.isRunning());
  }

  async members(): Promise<string[]> {
    return this.kind.members(this.reachable());
  }

  async leaderOf(target: string, options: { notOn?: NodeRef; timeoutMs?: number } = {}): Promise<Node> {
    const not = options.notOn === undefined ? undefined : this.node(options.notOn);
    return pollUntil(
      `${this.broker} cluster: the leader of ${target}`,
      options.timeoutMs ?? 30_000,
      async () => {
        const reachable = this.reachable();
        const name = await this.kind.leaderOf(reachable, target);
        const leader = this.node(name);
        if (!reachable.includes(leader)) throw new Error(`its leader ${name} is down or paused`);
        if (leader === not) throw new Error(`its leader is still ${name}`);
        return leader;
      },
    );
  }

  async kill(ref: NodeRef): Promise<void> {
    await this.node(ref).kill();
  }

  async stop(ref: NodeRef): Promise<void> {
    await this.node(ref).stop();
  }

  async start(ref: NodeRef): Promise<void> {
    const n = this.node(ref);
    if (n.isRunning()) return;
    n.spawn();
    await n.waitReady();
  }

  pause(ref: NodeRef): void {
    this.node(ref).pause();
  }

  resume(ref: NodeRef): void {
    this.node(ref).resume();
  }

  async waitHealthy(timeoutMs = 120_000): Promise<void> {
    await pollUntil(`${this.broker} cluster: healthy`, timeoutMs, async () => {
      const down = this.nodes.filter((n) => n.isPaused() || !n.isRunning()).map((n) => n.name);
      if (down.length > 0) throw new Error(`down or paused: ${down.join(', ')}`);
      await this.kind.healthy(this.nodes);
    });
  }

  async close(): Promise<void> {
    this.onClose();
    await Promise.all(this.nodes.map((n) => (n.pid() > 0 ? killGroup(n.pid()) : undefined)));
    for (const n of this.nodes) n.killSync();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Kills every node of the clusters under `parentDir` (the `parentDir` of `startCluster`, e.g. the
 * persistent clusters of `brokers:up --cluster`), drops their registrations and deletes their dirs.
 * Returns the dirs of the clusters it stopped.
 */
export function stopClustersIn(parentDir: string): string[] {
  if (!existsSync(parentDir)) return [];
  const stopped: string[] = [];
  for (const entry of readdirSync(parentDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith('carrier-cluster-')) continue;
    const dir = path.join(parentDir, entry.name);
    for (const file of readdirSync(dir).filter((f) => /^node-\d+\.json$/.test(f))) {
      const recordFile = path.join(dir, file);
      const record = readRecord(recordFile);
      if (record.pid > 0) killLocalSync(record);
      untrack(recordFile);
    }
    rmSync(dir, { recursive: true, force: true });
    stopped.push(dir);
  }
  return stopped;
}
