import { spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import { postgresInstall } from './install.js';
import type { LocalBrokerRecord } from './types.js';
import { run } from './util.js';

// PostgreSQL as a local process of the harness: a cluster of its own (initdb) in a private temp
// dir, its server started directly (`postgres`, not pg_ctl: the server leads its own process
// group like every broker, so kill -9 of the group and a start on the same data dir work as for
// the brokers). Trust authentication for the superuser `carrier`, on 127.0.0.1 and a private
// unix-socket dir only.

const HOST = '127.0.0.1';

/** The superuser of the harness's clusters (trust authentication, no password). */
export const POSTGRES_USER = 'carrier';

/**
 * Settings of every harness server (`postgres -c`), from the PostgreSQL documentation, chapter
 * "Server Configuration": durability on (`fsync`, `synchronous_commit`, `full_page_writes`: a
 * committed transaction survives kill -9 of the server), loopback TCP only, room for the
 * connection pools of parallel spec files, logs on stderr (the record's log file).
 */
export const POSTGRES_SETTINGS: Readonly<Record<string, string>> = {
  listen_addresses: HOST,
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  max_connections: '200',
  unix_socket_permissions: '0700',
  logging_collector: 'off',
  log_line_prefix: '%m [%p] ',
};

/** `postgres` OS user's ids: PostgreSQL refuses to run as root (initdb and postgres both). */
function postgresOsUser(): { uid: number; gid: number } {
  const id = (flag: string) => {
    const r = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
    const n = Number(r.stdout.trim());
    if (r.status !== 0 || !Number.isInteger(n))
      throw new Error(
        'PostgreSQL refuses to run as root, and there is no `postgres` OS user to run it as ' +
          '(the Debian package postgresql creates it; or run the tests as another user)',
      );
    return n;
  };
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * A new cluster in a temp dir of its own (`<tmp>/carrier-postgres-*`: `data/` and `sockets/`;
 * owned by the `postgres` OS user when the harness runs as root, since the harness's own dirs may
 * be closed to other users), and the command that serves it on a free loopback port. `dataDir`
 * holds the server's log. The record's clean-up deletes the cluster once the server is gone (at
 * teardown, by the registry sweep); kill -9 and stop keep it.
 */
export async function preparePostgres(dataDir: string): Promise<Omit<LocalBrokerRecord, 'pid'>> {
  const pg = postgresInstall();
  if (!pg) throw new Error('PostgreSQL is not installed: run `npm run brokers:install`');
  const owner = process.getuid?.() === 0 ? postgresOsUser() : undefined;
  const cluster = mkdtempSync(path.join(os.tmpdir(), 'carrier-postgres-'));
  try {
    const pgdata = path.join(cluster, 'data');
    const sockets = path.join(cluster, 'sockets');
    mkdirSync(sockets, { mode: 0o700 });
    if (owner) {
      chownSync(cluster, owner.uid, owner.gid);
      chownSync(sockets, owner.uid, owner.gid);
    }
    const env = { ...process.env, LC_ALL: 'C', TZ: 'UTC' };
    await run(
      path.join(pg.binDir, 'initdb'),
      ['-D', pgdata, '-U', POSTGRES_USER, '--auth=trust', '--encoding=UTF8', '--no-locale'],
      { cwd: cluster, env, ...owner },
    );
    // the unix socket (a private dir) and 127.0.0.1; nothing else
    const hba = path.join(pgdata, 'pg_hba.conf');
    writeFileSync(
      hba,
      ['# carrier test harness', 'local all all trust', `host all all ${HOST}/32 trust`, ''].join('\n'),
    );
    if (owner) chownSync(hba, owner.uid, owner.gid);
    const port = await getPort({ host: HOST });
    const out = spawnSync(path.join(pg.binDir, 'postgres'), ['--version'], { encoding: 'utf8' });
    const version = /\(PostgreSQL\)\s+(\S+)/.exec(out.stdout)?.[1] ?? pg.major;
    return {
      name: 'postgres',
      url: `postgres://${POSTGRES_USER}@${HOST}:${port}/postgres`,
      version: `PostgreSQL ${version}`,
      dataDir,
      logFile: path.join(dataDir, 'postgres.log'),
      spec: {
        command: path.join(pg.binDir, 'postgres'),
        args: [
          '-D',
          pgdata,
          '-p',
          String(port),
          '-k',
          sockets,
          ...Object.entries(POSTGRES_SETTINGS).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
        ],
        env: { LC_ALL: 'C', TZ: 'UTC' },
        cwd: cluster,
        ...owner,
      },
      ports: { postgres: port },
      cleanup: [{ command: 'rm', args: ['-rf', '--', cluster], env: {}, cwd: os.tmpdir() }],
      // "fast shutdown": rolls back open transactions, disconnects clients, writes a checkpoint
      stopSignal: 'SIGINT',
    };
  } catch (err) {
    rmSync(cluster, { recursive: true, force: true });
    throw err;
  }
}
