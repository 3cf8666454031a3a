import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import getPort from 'get-port';
import type { ClusterKind, ClusterNode, PreparedNode } from './cluster.js';
import { natsServer } from './install.js';
import { natsPin } from './versions.js';

// NATS as three nats-servers with JetStream in one cluster (routes on loopback), each with a
// configuration file (like src/nats-config.ts) and:
// - `sync_interval: always`: JetStream fsyncs every write before it acknowledges it (the durable
//   setting after the 2025 Jepsen analysis of JetStream; the default syncs every 2 min);
// - an HTTP monitoring port (`/healthz`, `/jsz`): the cluster's own view of its JetStream meta
//   group (members, leader) and of each server's health.
// Stream leaders come from the JetStream API (stream info, `$JS.API.STREAM.INFO.<stream>`).

const HOST = '127.0.0.1';

async function prepare(dir: string): Promise<{ url: string; nodes: PreparedNode[] }> {
  const pin = natsPin();
  const server = natsServer(pin);
  if (!server)
    throw new Error(`nats-server ${pin.version} is not installed: run \`npm run brokers:install\``);
  const out = spawnSync(server, ['--version'], { encoding: 'utf8' });
  const version = (out.stdout || out.stderr).trim().replace(/^nats-server:\s*/, '') || pin.version;
  const ports: { client: number; cluster: number; http: number }[] = [];
  for (let i = 0; i < 3; i++) {
    ports.push({
      client: await getPort({ host: HOST }),
      cluster: await getPort({ host: HOST }),
      http: await getPort({ host: HOST }),
    });
  }
  const clusterName = `carrier-${ports[0]!.client}`;
  const routes = ports.map((p) => `"nats-route://${HOST}:${p.cluster}"`).join(', ');
  const nodes: PreparedNode[] = ports.map((p, i) => {
    const name = `n${i + 1}-${p.client}`;
    const nodeDir = path.join(dir, `nats-${i + 1}`);
    mkdirSync(nodeDir, { recursive: true });
    const conf = path.join(nodeDir, 'nats.conf');
    writeFileSync(
      conf,
      [
        `server_name: "${name}"`,
        `listen: "${HOST}:${p.client}"`,
        `http: "${HOST}:${p.http}"`,
        `jetstream { store_dir: "${path.join(nodeDir, 'jetstream')}", sync_interval: always }`,
        `cluster { name: "${clusterName}", listen: "${HOST}:${p.cluster}", routes: [${routes}] }`,
        '',
      ].join('\n'),
    );
    return {
      name,
      url: `nats://${HOST}:${p.client}`,
      record: {
        name: 'nats',
        url: `nats://${HOST}:${p.client}`,
        version: `nats-server ${version}`,
        dataDir: nodeDir,
        logFile: path.join(nodeDir, 'nats.log'),
        spec: { command: server, args: ['-c', conf], env: {}, cwd: nodeDir },
        ports: { client: p.client, cluster: p.cluster, http: p.http },
        cleanup: [],
      },
    };
  });
  return { url: `nats://${ports.map((p) => `${HOST}:${p.client}`).join(',')}`, nodes };
}

interface MetaCluster {
  leader?: string;
  cluster_size?: number;
  replicas?: { name: string; current: boolean; offline?: boolean }[];
}

/** The server's `/jsz` meta group view (monitoring endpoint). */
async function metaCluster(node: ClusterNode): Promise<MetaCluster> {
  const res = await fetch(`http://${HOST}:${node.ports.http}/jsz`, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`${node.name} /jsz: HTTP ${res.status}`);
  const body = (await res.json()) as { meta_cluster?: MetaCluster };
  if (!body.meta_cluster) throw new Error(`${node.name} /jsz: no meta_cluster`);
  return body.meta_cluster;
}

/**
 * The running members of the JetStream meta group, as its leader sees them (followers do not track
 * each other: only the leader's `/jsz` says which peers are current): the leader and its current,
 * online replicas.
 */
async function members(nodes: readonly ClusterNode[]): Promise<string[]> {
  let lastError: unknown = new Error('no reachable node');
  for (const node of nodes) {
    try {
      const leaderName = (await metaCluster(node)).leader;
      if (!leaderName) throw new Error(`${node.name}: no meta leader`);
      const leader = nodes.find((n) => n.name === leaderName);
      if (!leader) throw new Error(`meta leader ${leaderName} is not reachable`);
      const meta = await metaCluster(leader);
      if (meta.leader !== leader.name) throw new Error(`meta leader moved from ${leader.name}`);
      const peers = (meta.replicas ?? []).filter((r) => r.current && !r.offline).map((r) => r.name);
      return [leader.name, ...peers].sort();
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

async function leaderOf(nodes: readonly ClusterNode[], stream: string): Promise<string> {
  if (nodes.length === 0) throw new Error('no reachable node');
  const nc = await connect({
    servers: nodes.map((n) => n.url.replace(/^nats:\/\//, '')),
    timeout: 2000,
    reconnect: false,
  });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 3000 });
    const info = await jsm.streams.info(stream);
    const leader = info.cluster?.leader;
    if (!leader) throw new Error(`stream ${stream} has no leader`);
    return leader;
  } finally {
    await nc.close().catch(() => {});
  }
}

async function healthy(nodes: readonly ClusterNode[]): Promise<void> {
  for (const node of nodes) {
    const res = await fetch(`http://${HOST}:${node.ports.http}/healthz`, {
      signal: AbortSignal.timeout(2000),
    });
    if (!res.ok) throw new Error(`${node.name} /healthz: HTTP ${res.status} ${await res.text()}`);
  }
  const seen = await members(nodes);
  if (seen.length !== nodes.length) throw new Error(`JetStream meta group: ${seen.join(', ')}`);
}

/** NATS's parts of a three-node cluster (src/cluster.ts). */
export const natsCluster: ClusterKind = { prepare, members, leaderOf, healthy };
