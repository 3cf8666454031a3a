import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import { ensureInstalled } from './harness.js';
import { natsServer } from './install.js';
import { killLocalSync, readRecord, spawnBroker, stopLocal, writeRecord } from './local.js';
import { track, untrack } from './registry.js';
import type { LocalBrokerRecord } from './types.js';
import { groupAlive, pollUntil, tail } from './util.js';

// A nats-server of the calling spec's own, run with a configuration file (authorization, TLS…), on
// a free loopback port, with its own data dir; registered like every harness broker (src/registry.ts)
// so that a worker that dies leaves it to the sweep. The harness's readiness probe cannot log in to
// such a server, so readiness here is the server's INFO line, which it sends to every client before
// any authentication or TLS upgrade.

const HOST = '127.0.0.1';

/** A running nats-server with a configuration of the spec's. */
export interface ConfiguredNats {
  /** Its client port on 127.0.0.1. */
  readonly port: number;
  /** Its data dir (configuration, JetStream store, log). */
  readonly dir: string;
  /**
   * Writes the configuration `config(dir)` returns in place of the first one and makes the server
   * reload it (SIGHUP): clients that the new authorization refuses are disconnected.
   */
  reconfigure(config: (dir: string) => string): void;
  /** Stops it (SIGTERM, SIGKILL after 5 s) and deletes its dir. Call it in afterAll. */
  dispose(): Promise<void>;
}

/** Resolves with the first line the server sends: its INFO (JSON after `INFO `). */
function readInfo(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    let text = '';
    socket.setTimeout(2_000, () => socket.destroy(new Error('no INFO within 2 s')));
    socket.on('data', (chunk) => {
      text += chunk.toString('utf8');
      const end = text.indexOf('\r\n');
      if (end < 0) return;
      socket.destroy();
      if (text.startsWith('INFO ')) resolve(text.slice(5, end));
      else reject(new Error(`not an INFO line: ${text.slice(0, 80)}`));
    });
    socket.on('error', reject);
  });
}

/**
 * Starts nats-server with the configuration `config(dir)` returns (JetStream stored in
 * `<dir>/jetstream`; `listen` and `server_name` are set here: do not repeat them) and waits until
 * it sends its INFO line.
 */
export async function natsWithConfig(config: (dir: string) => string): Promise<ConfiguredNats> {
  await ensureInstalled('nats');
  const server = natsServer();
  if (!server) throw new Error('nats-server is not installed: run `npm run brokers:install`');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'carrier-nats-conf-'));
  const port = await getPort({ host: HOST });
  const conf = path.join(dir, 'nats.conf');
  const write = (own: (dir: string) => string) =>
    writeFileSync(
      conf,
      [
        `listen: "${HOST}:${port}"`,
        `server_name: "carrier-conf-${port}"`,
        `jetstream { store_dir: "${path.join(dir, 'jetstream')}" }`,
        own(dir),
        '',
      ].join('\n'),
    );
  write(config);
  const prepared: Omit<LocalBrokerRecord, 'pid'> = {
    name: 'nats',
    url: `nats://${HOST}:${port}`,
    version: 'nats-server',
    dataDir: dir,
    logFile: path.join(dir, 'nats.log'),
    spec: { command: server, args: ['-c', conf], env: {}, cwd: dir },
    ports: { client: port },
    cleanup: [],
  };
  const recordFile = path.join(dir, 'nats.json');
  const record: LocalBrokerRecord = { ...prepared, pid: spawnBroker(prepared) };
  writeRecord(recordFile, record);
  track(recordFile, record, { removeDir: dir });
  const onExit = () => {
    if (existsSync(recordFile)) killLocalSync(readRecord(recordFile));
    untrack(recordFile);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const dispose = async () => {
    process.off('exit', onExit);
    await stopLocal(record, 5_000);
    untrack(recordFile);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await pollUntil(
      `nats-server -c ${conf}`,
      15_000,
      () => readInfo(port),
      () => {
        if (!groupAlive(record.pid)) throw new Error(`nats-server exited:\n${tail(record.logFile)}`);
      },
    );
  } catch (error) {
    await dispose();
    throw error;
  }
  const reconfigure = (next: (dir: string) => string) => {
    write(next);
    process.kill(record.pid, 'SIGHUP');
  };
  return { port, dir, reconfigure, dispose };
}
