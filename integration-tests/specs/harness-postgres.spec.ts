import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { privatePostgres } from '../src/faults.js';
import { readState } from '../src/harness.js';
import { readRecord } from '../src/local.js';
import { harnessRoot } from '../src/paths.js';
import { entryOf, RUN_ENV, sweep } from '../src/registry.js';
import { restartablePostgres } from '../src/restartable.js';
import { groupAlive } from '../src/util.js';

// The harness's PostgreSQL (src/postgres.ts): the run's server answers queries with the settings
// the harness gives it, and a server of the test's own keeps its committed rows through kill -9 and
// a start on the same data dir, then leaves no process and no data behind.

const url = inject('postgres');
const provider = readState(inject('brokersState'))?.postgres?.provider;
const fresh = (prefix: string) => `${prefix}_${randomUUID().slice(0, 8)}`;
// started by the case that uses it, disposed in this file's afterAll
const lazy = restartablePostgres();

async function connect(connectionString: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5000 });
  // a client open while its server is killed gets an 'error' event: not an uncaught one
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Processes whose command line names `text` (the cluster's path: the server and its children). */
function processesNaming(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe('harness PostgreSQL', () => {
  it("the run's PostgreSQL answers queries in a schema of the test's own", async () => {
    expect(url).toMatch(/^postgres(ql)?:\/\//);
    const client = await connect(url);
    const schema = fresh('harness');
    try {
      await client.query(`CREATE SCHEMA ${schema}`);
      await client.query(`CREATE TABLE ${schema}.t (id int PRIMARY KEY, v text NOT NULL)`);
      await client.query(`INSERT INTO ${schema}.t VALUES (1, 'one'), (2, 'two')`);
      const rows = await client.query<{ v: string }>(`SELECT v FROM ${schema}.t ORDER BY id`);
      expect(rows.rows.map((r) => r.v)).toEqual(['one', 'two']);
      if (provider === 'local-process' || provider === 'testcontainers') {
        // the settings the harness starts it with (a server given by URL is whatever it is)
        const setting = async (name: string) =>
          (await client.query<{ setting: string }>('SELECT setting FROM pg_settings WHERE name = $1', [name]))
            .rows[0]?.setting;
        expect(await setting('fsync')).toBe('on');
        expect(await setting('synchronous_commit')).toBe('on');
        expect(await setting('max_connections')).toBe('200');
        const su = await client.query<{ rolsuper: boolean }>(
          'SELECT rolsuper FROM pg_roles WHERE rolname = current_user',
        );
        expect(su.rows[0]?.rolsuper).toBe(true);
      }
    } finally {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
      await client.end();
    }
  });

  it('a private PostgreSQL keeps committed rows through kill -9 and start, loses the uncommitted, and leaves nothing running after dispose', async () => {
    const server = await privatePostgres();
    const recordFile = path.join(server.dir, 'postgres.json');
    const cluster = readRecord(recordFile).spec.cwd;
    let lastPid = 0;
    try {
      expect(server.url).toMatch(/^postgres:\/\/carrier@127\.0\.0\.1:\d+\/postgres$/);
      expect(server.version).toMatch(/^PostgreSQL \d+/);
      const writer = await connect(server.url);
      await writer.query('CREATE TABLE kept (id int PRIMARY KEY, v text NOT NULL)');
      await writer.query("INSERT INTO kept SELECT i, 'row ' || i FROM generate_series(1, 100) AS i");
      // open (never committed) when the server dies: crash recovery must roll it back
      const open = await connect(server.url);
      await open.query('BEGIN');
      await open.query("INSERT INTO kept VALUES (1000, 'uncommitted')");
      const before = readRecord(recordFile).pid;

      await server.kill9();
      expect(server.isRunning()).toBe(false);
      expect(groupAlive(before)).toBe(false);
      await Promise.all([writer.end().catch(() => {}), open.end().catch(() => {})]);

      await server.start();
      expect(server.isRunning()).toBe(true);
      const after = await connect(server.url);
      try {
        const rows = await after.query<{ n: string; max: number }>(
          'SELECT count(*) AS n, max(id) AS max FROM kept',
        );
        expect(rows.rows[0]).toEqual({ n: '100', max: 100 });
        // and it takes writes again, kept through a graceful restart as well
        await after.query("INSERT INTO kept VALUES (101, 'after recovery')");
      } finally {
        await after.end();
      }
      await server.restart();
      const again = await connect(server.url);
      try {
        const n = await again.query<{ n: string }>('SELECT count(*) AS n FROM kept');
        expect(n.rows[0]?.n).toBe('101');
      } finally {
        await again.end();
      }
      lastPid = readRecord(recordFile).pid;
      // the server (and its children) run from the cluster the record names
      expect(processesNaming(cluster)).toContain(lastPid);
    } finally {
      await server.dispose();
    }
    expect(groupAlive(lastPid)).toBe(false);
    expect(processesNaming(cluster)).toEqual([]);
    expect(existsSync(cluster)).toBe(false);
    expect(existsSync(server.dir)).toBe(false);
    expect(entryOf(recordFile)).toBeUndefined();
  });

  it('restartablePostgres() starts on first use and keeps a committed row through kill9() and start()', async () => {
    const client = await connect(await lazy.url());
    const table = fresh('lazy');
    await client.query(`CREATE TABLE ${table} (v text NOT NULL)`);
    await client.query(`INSERT INTO ${table} VALUES ('kept')`);
    await lazy.kill9();
    expect((await lazy.server()).isRunning()).toBe(false);
    await client.end().catch(() => {});
    await lazy.start();
    const after = await connect(await lazy.url());
    try {
      const rows = await after.query<{ v: string }>(`SELECT v FROM ${table}`);
      expect(rows.rows).toEqual([{ v: 'kept' }]);
    } finally {
      await after.end();
    }
  });

  it('a private PostgreSQL whose worker was killed (a test timed out) is killed by the next sweep, its cluster deleted', async () => {
    // a stand-in for a worker of a run that is gone (a dead run id), as in specs/harness-registry.spec.ts
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(harnessRoot, 'specs', 'fixtures', 'private-broker-child.ts'), 'postgres'],
      {
        cwd: harnessRoot,
        env: { ...process.env, [RUN_ENV]: '999999999:0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      let out = '';
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        err += d;
      });
      const started = await new Promise<{ pgid: number; dir: string; recordFile: string }>(
        (resolve, reject) => {
          child.stdout.setEncoding('utf8').on('data', (d: string) => {
            out += d;
            const line = out.split('\n').find((l) => l.startsWith('{'));
            if (line && out.includes('\n')) resolve(JSON.parse(line));
          });
          child.once('exit', (code) => reject(new Error(`the child exited (${code}) first: ${err}`)));
          setTimeout(
            () => reject(new Error(`no PostgreSQL from the child after 60 s: ${err}`)),
            60_000,
          ).unref();
        },
      );
      const cluster = readRecord(started.recordFile).spec.cwd;
      // its owner is alive: a sweep leaves it alone
      expect(sweep().map((s) => s.pgid)).not.toContain(started.pgid);
      child.kill('SIGKILL'); // no exit handler runs, as when vitest kills a worker
      await exited;
      expect(groupAlive(started.pgid)).toBe(true);

      const swept = sweep().find((s) => s.pgid === started.pgid);
      expect(swept).toMatchObject({ name: 'postgres', wasRunning: true });
      const deadline = Date.now() + 15_000;
      while (groupAlive(started.pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(groupAlive(started.pgid)).toBe(false);
      expect(processesNaming(cluster)).toEqual([]);
      expect(existsSync(cluster)).toBe(false);
      expect(existsSync(started.dir)).toBe(false);
      expect(entryOf(started.recordFile)).toBeUndefined();
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });
});
