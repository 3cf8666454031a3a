import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ContainerName, ContainerRef, LocalBrokerRecord, ProcessSpec, ServerName } from './types.js';

export type { ContainerRef } from './types.js';

import { groupAlive } from './util.js';

// Every broker process the harness starts is listed here, machine-wide, so that none outlives the
// run that started it, whatever way that run ended (a test that timed out and never reached its
// `finally`, a test worker killed by vitest, a CI job killed with SIGKILL).
//
// One JSON file per broker in `registryDir()` (default `$TMPDIR/carrier-test-brokers`), written when
// the broker starts and rewritten when it is restarted with a new pid. It names:
// - the broker's process group (and the start time of its leader, so a reused pid is never killed),
// - its owner: the process that started it (a test worker, the vitest main process, or the CLI),
// - its run: the vitest main process of the run (`CARRIER_TEST_RUN`, set by the globalSetup), if any,
// - whether it is meant to outlive its owner (`persistent`: the brokers of `npm run brokers:up`).
//
// A broker is a stray when it is not persistent and neither its owner nor its run still runs, or
// when it is persistent and its record file is gone (the checkout that ran brokers:up was deleted).
// `sweep()` kills strays (and runs the broker's clean-up, e.g. RabbitMQ's private epmd, and removes
// the data dir of a private broker); the globalSetup sweeps at start and at teardown (at teardown
// also every broker of its own run), `npm run brokers:down` sweeps too. Brokers of a run that is
// still going (another engineer's, another CI job's) are never touched.

/** A process identity that survives pid reuse: pid plus its start time (clock ticks since boot). */
export interface ProcessId {
  pid: number;
  start: string | undefined;
}

export interface RegistryEntry {
  name: ServerName;
  /** The broker's LocalBrokerRecord file. */
  recordFile: string;
  /** Process group of the broker (= pid of its leader). */
  pgid: number;
  /** Start time of the group leader when it was registered. */
  leaderStart: string | undefined;
  /** Run after the group is gone (from the record). */
  cleanup: ProcessSpec[];
  owner: ProcessId;
  run: ProcessId | undefined;
  /** Kept running on purpose after its owner exits (brokers:up): swept only once its record file is gone. */
  persistent: boolean;
  /** Deleted when the broker is swept (a private broker's temp dir). */
  removeDir: string | undefined;
  /** Redacted URL, for log lines. */
  url: string;
  registeredAt: string;
  /** A container of the testcontainers provider (then pgid is 0): removed through its engine. */
  container?: ContainerRef | undefined;
}

/** Where the registry lives: `CARRIER_TEST_REGISTRY_DIR`, else `$TMPDIR/carrier-test-brokers`. */
export function registryDir(): string {
  return process.env.CARRIER_TEST_REGISTRY_DIR ?? path.join(os.tmpdir(), 'carrier-test-brokers');
}

/** Environment variable that tells test workers which run they belong to (`<pid>:<start>`). */
export const RUN_ENV = 'CARRIER_TEST_RUN';

/** Start time of a process (field 22 of /proc/<pid>/stat), undefined when it does not run or off Linux. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

export function self(): ProcessId {
  return { pid: process.pid, start: processStart(process.pid) };
}

/** Whether the process still runs and is the same one (same start time). */
export function running(id: ProcessId | undefined): boolean {
  if (!id || !(id.pid > 0)) return false;
  try {
    process.kill(id.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = processStart(id.pid);
  if (process.platform !== 'linux') return true;
  return start !== undefined && (id.start === undefined || start === id.start);
}

/** The run this process belongs to (from `CARRIER_TEST_RUN`), if any. */
export function currentRun(): ProcessId | undefined {
  const v = process.env[RUN_ENV];
  const m = v ? /^(\d+):(\S*)$/.exec(v) : null;
  if (!m) return undefined;
  return { pid: Number(m[1]), start: m[2] || undefined };
}

/** Marks this process as a run's main process: workers it starts inherit the variable. */
export function markRun(): ProcessId {
  const me = self();
  process.env[RUN_ENV] = `${me.pid}:${me.start ?? ''}`;
  return me;
}

function entryFile(recordFile: string): string {
  const id = recordFile.startsWith('container:') ? recordFile : path.resolve(recordFile);
  const key = createHash('sha256').update(id).digest('hex').slice(0, 16);
  return path.join(registryDir(), `${key}.json`);
}

function readEntry(file: string): RegistryEntry | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as RegistryEntry;
  } catch {
    return undefined;
  }
}

/** The entry of a record file, if registered. */
export function entryOf(recordFile: string): RegistryEntry | undefined {
  return readEntry(entryFile(recordFile));
}

/** Every entry in the registry. */
export function entries(): RegistryEntry[] {
  let names: string[];
  try {
    names = readdirSync(registryDir());
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => readEntry(path.join(registryDir(), n)))
    .filter((e): e is RegistryEntry => e !== undefined);
}

export interface TrackOptions {
  /** Meant to outlive its owner (brokers:up); swept only once its record file is gone. */
  persistent?: boolean;
  /** A dir to delete when the broker is swept. */
  removeDir?: string;
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
}

/**
 * Registers (or, after a restart, updates) the broker of `record`. A restart keeps the first
 * registration's owner, run, persistence and dir.
 */
export function track(recordFile: string, record: LocalBrokerRecord, options: TrackOptions = {}): void {
  const file = entryFile(recordFile);
  const previous = readEntry(file);
  const entry: RegistryEntry = {
    name: record.name,
    recordFile: path.resolve(recordFile),
    pgid: record.pid,
    leaderStart: processStart(record.pid),
    cleanup: record.cleanup,
    owner: previous?.owner ?? self(),
    run: previous ? previous.run : currentRun(),
    persistent: previous?.persistent ?? options.persistent ?? false,
    removeDir: previous?.removeDir ?? options.removeDir,
    url: redactUrl(record.url),
    registeredAt: previous?.registeredAt ?? new Date().toISOString(),
  };
  mkdirSync(registryDir(), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(entry, null, 2)}\n`);
  renameSync(tmp, file);
}

/** Removes the entry of a broker that was stopped on purpose. */
export function untrack(recordFile: string): void {
  rmSync(entryFile(recordFile), { force: true });
}

/**
 * Registers a container of the testcontainers provider (Ryuk, testcontainers' reaper, is off or
 * unavailable on podman machines: the sweep removes containers whose run is gone).
 */
export function trackContainer(
  name: ContainerName,
  ref: ContainerRef,
  url: string,
  options: TrackOptions = {},
): void {
  const file = entryFile(`container:${ref.id}`);
  const entry: RegistryEntry = {
    name,
    recordFile: `container:${ref.id}`,
    pgid: 0,
    leaderStart: undefined,
    cleanup: [],
    owner: self(),
    run: currentRun(),
    persistent: options.persistent ?? false,
    removeDir: undefined,
    url: redactUrl(url),
    registeredAt: new Date().toISOString(),
    container: ref,
  };
  mkdirSync(registryDir(), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(entry, null, 2)}\n`);
  renameSync(tmp, file);
}

export function untrackContainer(id: string): void {
  rmSync(entryFile(`container:${id}`), { force: true });
}

// DELETE /containers/<id>?force=true over the engine's unix socket, in a child process so that
// exit handlers can wait for it. Exit 0: removed; 3: no such container; 1: failed.
const REMOVE_SCRIPT = `const r = require('node:http').request({ socketPath: process.argv[1], method: 'DELETE',
  path: '/containers/' + process.argv[2] + '?force=true&v=true', timeout: 20000 }, (res) => {
  res.resume(); process.exit(res.statusCode === 204 ? 0 : res.statusCode === 404 ? 3 : 1); });
r.on('error', () => process.exit(1)); r.on('timeout', () => process.exit(1)); r.end();`;

/**
 * Labels every harness container carries: the machine, its owner and run, as in registry entries.
 * They let the sweep find containers of crashed runs that never got an entry (a run killed while
 * its container was still starting) and those whose entry an older harness dropped.
 */
export function containerLabels(persistent: boolean): Record<string, string> {
  const me = self();
  const run = currentRun();
  return {
    'org.carrier.tests': 'true',
    'org.carrier.host': os.hostname(),
    'org.carrier.owner': `${me.pid}:${me.start ?? ''}`,
    'org.carrier.run': run ? `${run.pid}:${run.start ?? ''}` : '',
    'org.carrier.persistent': String(persistent),
  };
}

const LIST_SCRIPT = `const f = encodeURIComponent(JSON.stringify({ label: ['org.carrier.tests=true'] }));
const r = require('node:http').request({ socketPath: process.argv[1], path: '/containers/json?all=1&filters=' + f,
  timeout: 10000 }, (res) => { let b = ''; res.on('data', (d) => { b += d; });
  res.on('end', () => { process.stdout.write(b); process.exit(res.statusCode === 200 ? 0 : 1); }); });
r.on('error', () => process.exit(1)); r.on('timeout', () => process.exit(1)); r.end();`;

/** The engine's API socket of this process (DOCKER_HOST or Docker's default), when it exists. */
function engineSocket(): string | undefined {
  const host = process.env.DOCKER_HOST;
  const socket = host ? (host.startsWith('unix://') ? host.slice(7) : undefined) : '/var/run/docker.sock';
  return socket && existsSync(socket) ? socket : undefined;
}

function parseId(v: string | undefined): ProcessId | undefined {
  const m = v ? /^(\d+):(\S*)$/.exec(v) : null;
  return m ? { pid: Number(m[1]), start: m[2] || undefined } : undefined;
}

/** Removes labelled containers of this machine whose owner and run are gone (see containerLabels). */
function sweepLabelled(options: SweepOptions): Swept[] {
  const socket = engineSocket();
  if (!socket) return [];
  const r = spawnSync(process.execPath, ['-e', LIST_SCRIPT, socket], { encoding: 'utf8', timeout: 15_000 });
  if (r.status !== 0) return [];
  let list: { Id: string; Labels?: Record<string, string> }[];
  try {
    list = JSON.parse(r.stdout);
  } catch {
    return [];
  }
  const swept: Swept[] = [];
  for (const c of list) {
    const l = c.Labels ?? {};
    if (l['org.carrier.host'] !== os.hostname()) continue;
    const owner = parseId(l['org.carrier.owner']);
    if (!owner) continue;
    const asEntry = {
      persistent: l['org.carrier.persistent'] === 'true',
      owner,
      run: parseId(l['org.carrier.run']),
    };
    const reason = strayReason(asEntry as RegistryEntry, options);
    if (!reason) continue;
    const wasRunning = removeContainerSync({ id: c.Id, dockerHost: `unix://${socket}` });
    swept.push({ name: 'container', pgid: 0, url: `container ${c.Id.slice(0, 12)}`, wasRunning, reason });
  }
  return swept;
}

/** Removes a container synchronously (also its anonymous volumes); whether it existed. */
export function removeContainerSync(ref: ContainerRef): boolean {
  if (ref.dockerHost.startsWith('unix://')) {
    const r = spawnSync(process.execPath, ['-e', REMOVE_SCRIPT, ref.dockerHost.slice(7), ref.id], {
      stdio: 'ignore',
      timeout: 30_000,
    });
    if (r.status === 0 || r.status === 3) return r.status === 0;
  }
  // a tcp:// engine, or its API socket is gone: the CLI talks to the engine itself
  for (const cli of ['podman', 'docker']) {
    const r = spawnSync(cli, ['rm', '-f', '-v', ref.id], { stdio: 'ignore', timeout: 30_000 });
    if (r.status === 0) return true;
  }
  return false;
}

/** Whether the entry's broker group still runs (and is the one registered, not a reused pid). */
export function entryAlive(e: RegistryEntry): boolean {
  if (!groupAlive(e.pgid)) return false;
  // the leader's pid was reused by another process: then the registered group is gone
  const start = processStart(e.pgid);
  return start === undefined || e.leaderStart === undefined || start === e.leaderStart;
}

/** Why an entry would be swept, or undefined when it must be left alone. */
export function strayReason(e: RegistryEntry, options: SweepOptions = {}): string | undefined {
  if (e.persistent) {
    // kept on purpose while its checkout keeps its record (`.brokers/up/<name>.json`): a checkout
    // deleted before `brokers:down` leaves a broker nobody can stop by name any more
    if (e.container || !path.isAbsolute(e.recordFile) || existsSync(e.recordFile)) return undefined;
    return `it was kept running by brokers:up, but its record ${e.recordFile} is gone (its checkout or up dir was deleted)`;
  }
  if (options.run && e.run && e.run.pid === options.run.pid && e.run.start === options.run.start)
    return 'its run is ending';
  if (running(e.owner) || running(e.run)) return undefined;
  return `its owner (pid ${e.owner.pid}) and run${e.run ? ` (pid ${e.run.pid})` : ''} are gone`;
}

export interface SweepOptions {
  /** Also sweep every broker of this run, even if its owner still runs (the run's teardown). */
  run?: ProcessId | undefined;
}

export interface Swept {
  /** The broker (or schema registry), or `container` for a labelled container without an entry. */
  name: ServerName | 'container';
  pgid: number;
  url: string;
  /** Whether its process group was still running (false: only its entry/dir were left). */
  wasRunning: boolean;
  reason: string;
}

/**
 * Kills, synchronously, every stray broker (SIGKILL to its process group), runs its clean-up,
 * deletes its temp dir and its entry. Safe to call from 'exit' handlers and from other runs.
 */
export function sweep(options: SweepOptions = {}): Swept[] {
  const swept: Swept[] = [];
  let names: string[];
  try {
    names = readdirSync(registryDir()).filter((n) => n.endsWith('.json'));
  } catch {
    return sweepLabelled(options);
  }
  for (const n of names) {
    const file = path.join(registryDir(), n);
    const e = readEntry(file);
    if (!e) continue;
    const reason = strayReason(e, options);
    if (!reason) continue;
    if (e.container) {
      const wasRunning = removeContainerSync(e.container);
      rmSync(file, { force: true });
      swept.push({ name: e.name, pgid: 0, url: e.url, wasRunning, reason });
      continue;
    }
    const wasRunning = entryAlive(e);
    if (wasRunning) {
      try {
        process.kill(-e.pgid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    for (const c of e.cleanup) {
      spawnSync(c.command, c.args, {
        env: { ...process.env, ...c.env },
        cwd: os.tmpdir(),
        stdio: 'ignore',
        timeout: 5000,
      });
    }
    if (e.removeDir) rmSync(e.removeDir, { recursive: true, force: true });
    rmSync(file, { force: true });
    swept.push({ name: e.name, pgid: e.pgid, url: e.url, wasRunning, reason });
  }
  return [...swept, ...sweepLabelled(options)];
}
