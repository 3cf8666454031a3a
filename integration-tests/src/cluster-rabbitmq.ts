import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import getPort from 'get-port';
import type { ClusterKind, ClusterNode, PreparedNode } from './cluster.js';
import { rabbitmqServer } from './install.js';
import { run } from './util.js';

// RabbitMQ as three nodes (`carrier-<amqp port>@localhost`, each with its own AMQP and Erlang
// distribution ports, mnesia and log dirs) joined into one cluster with `rabbitmqctl join_cluster`.
// Like the single node of src/local.ts they use a private epmd bound to loopback on a free port, here
// one epmd for the three (the nodes find each other through it), and each node's HOME holds the
// same Erlang cookie (`.erlang.cookie`, mode 0400), which rabbitmqctl reads from the same HOME.
// Quorum queues declared on the cluster get a replica on every node (the default initial group
// size is the cluster size): three replicas. Classic queues live on one node and are out of scope
// for failover.
// Membership and queue leaders come from rabbitmqctl (`cluster_status`, `list_queues name leader`),
// the broker's own CLI; no management plugin.

const HOST = '127.0.0.1';

function findEpmd(): string | undefined {
  return ['/usr/lib/erlang/bin/epmd', '/usr/bin/epmd', '/usr/local/bin/epmd'].find((c) => existsSync(c));
}

function rabbitmqctl(): string {
  const server = rabbitmqServer();
  if (!server) throw new Error('rabbitmq-server is not installed: run `npm run brokers:install`');
  const ctl = path.join(path.dirname(server), 'rabbitmqctl');
  if (!existsSync(ctl)) throw new Error(`no rabbitmqctl beside ${server}`);
  return ctl;
}

async function prepare(dir: string): Promise<{ url: string; nodes: PreparedNode[] }> {
  const server = rabbitmqServer();
  if (!server) throw new Error('rabbitmq-server is not installed: run `npm run brokers:install`');
  const epmdPort = await getPort({ host: HOST });
  // an Erlang cookie: up to 255 characters, uppercase letters here
  const cookie = Array.from(randomBytes(20), (b) => String.fromCharCode(65 + (b % 26))).join('');
  const epmd = findEpmd();
  const nodes: PreparedNode[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await getPort({ host: HOST });
    const distPort = await getPort({ host: HOST });
    const name = `carrier-${port}@localhost`;
    const nodeDir = path.join(dir, `rabbitmq-${i + 1}`);
    mkdirSync(nodeDir, { recursive: true });
    const cookieFile = path.join(nodeDir, '.erlang.cookie');
    writeFileSync(cookieFile, cookie);
    chmodSync(cookieFile, 0o400);
    const conf = path.join(nodeDir, 'rabbitmq.conf');
    writeFileSync(
      conf,
      [
        `listeners.tcp.default = ${HOST}:${port}`,
        'loopback_users.guest = true',
        'log.console = true',
        'log.console.level = info',
        'log.file = false',
        // a node that comes back after the others declared it down (e.g. resumed after a SIGSTOP
        // longer than the tick time) is a partition for mnesia: `autoheal` restarts the losing side
        // once all can talk again; the default (`ignore`) leaves the cluster partitioned for good, and
        // `pause_minority` only pauses a minority that sees itself cut off (the resumed node never does)
        'cluster_partition_handling = autoheal',
        '',
      ].join('\n'),
    );
    writeFileSync(path.join(nodeDir, 'enabled_plugins'), '[].\n');
    writeFileSync(path.join(nodeDir, 'rabbitmq-env.conf'), '');
    // Erlang distribution declares a silent peer down after `net_ticktime` (default 60 s, here 15 s);
    // until then the queue records of a hung (paused) node's queues, and so `list_queues … leader`,
    // wait on it. Quorum queues elect a new leader on their own (Raft) within seconds either way.
    writeFileSync(path.join(nodeDir, 'advanced.config'), '[{kernel, [{net_ticktime, 15}]}].\n');
    const env: Record<string, string> = {
      ...ctlEnv(nodeDir, epmdPort),
      RABBITMQ_NODENAME: name,
      RABBITMQ_USE_LONGNAME: 'false',
      RABBITMQ_NODE_IP_ADDRESS: HOST,
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_MNESIA_BASE: path.join(nodeDir, 'mnesia'),
      RABBITMQ_LOG_BASE: path.join(nodeDir, 'log'),
      RABBITMQ_LOGS: '-',
      RABBITMQ_CONFIG_FILE: conf,
      RABBITMQ_ADVANCED_CONFIG_FILE: path.join(nodeDir, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(nodeDir, 'enabled_plugins'),
      RABBITMQ_PLUGINS_EXPAND_DIR: path.join(nodeDir, 'plugins-expand'),
      RABBITMQ_PID_FILE: path.join(nodeDir, 'rabbitmq.pid'),
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    };
    nodes.push({
      name,
      url: `amqp://guest:guest@${HOST}:${port}`,
      record: {
        name: 'rabbitmq',
        url: `amqp://guest:guest@${HOST}:${port}`,
        version: 'RabbitMQ',
        dataDir: nodeDir,
        logFile: path.join(nodeDir, 'rabbitmq.log'),
        spec: { command: server, args: [], env, cwd: nodeDir },
        ports: { amqp: port, distribution: distPort, epmd: epmdPort },
        // the shared epmd; `epmd -kill` refuses while nodes are registered, so only the last one stops it
        cleanup: epmd
          ? [{ command: epmd, args: ['-kill'], env: { ERL_EPMD_PORT: String(epmdPort) }, cwd: nodeDir }]
          : [],
      },
    });
  }
  const hosts = nodes.map((n) => n.url.replace(/^amqp:\/\/guest:guest@/, '')).join(',');
  return { url: `amqp://guest:guest@${hosts}`, nodes };
}

/** What rabbitmqctl needs to reach a node: the cookie's HOME, the private epmd, no system env file. */
function ctlEnv(nodeDir: string, epmdPort: number): Record<string, string> {
  return {
    HOME: nodeDir,
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: HOST,
    RABBITMQ_CONF_ENV_FILE: path.join(nodeDir, 'rabbitmq-env.conf'),
  };
}

/** Runs `rabbitmqctl -n <node> …args` (with a deadline in seconds) and returns its output. */
async function ctl(node: ClusterNode, args: string[], timeoutS = 15): Promise<string> {
  return run(rabbitmqctl(), ['-n', node.name, '-t', String(timeoutS), ...args], {
    env: { ...process.env, ...ctlEnv(node.dataDir, node.ports.epmd!) },
  });
}

/** Joins the second and third node to the first (stop_app, join_cluster, start_app). */
async function form(nodes: readonly ClusterNode[]): Promise<void> {
  const [first, ...others] = nodes;
  for (const node of others) {
    await ctl(node, ['stop_app']);
    await ctl(node, ['join_cluster', first!.name]);
    await ctl(node, ['start_app']);
  }
}

async function members(nodes: readonly ClusterNode[]): Promise<string[]> {
  let lastError: unknown = new Error('no reachable node');
  for (const node of nodes) {
    try {
      const out = await ctl(node, ['cluster_status', '--formatter', 'json', '-q'], 10);
      const status = JSON.parse(out) as { running_nodes?: string[] };
      return [...(status.running_nodes ?? [])].sort();
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

async function leaderOf(nodes: readonly ClusterNode[], queue: string): Promise<string> {
  let lastError: unknown = new Error('no reachable node');
  for (const node of nodes) {
    try {
      const out = await ctl(
        node,
        ['list_queues', 'name', 'leader', '--formatter', 'json', '-q', '--online'],
        10,
      );
      const rows = JSON.parse(out) as { name: string; leader?: string }[];
      const row = rows.find((r) => r.name === queue);
      if (!row) throw new Error(`no queue ${queue} (on online nodes)`);
      if (!row.leader) throw new Error(`queue ${queue} has no leader (a classic queue?)`);
      return row.leader;
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

async function healthy(nodes: readonly ClusterNode[]): Promise<void> {
  const running = await members(nodes);
  if (running.length !== nodes.length) throw new Error(`running nodes: ${running.join(', ')}`);
}

/** RabbitMQ's parts of a three-node cluster (src/cluster.ts). */
export const rabbitmqCluster: ClusterKind = { prepare, form, members, leaderOf, healthy };
