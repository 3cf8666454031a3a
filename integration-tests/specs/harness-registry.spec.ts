import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureInstalled } from '../src/harness.js';
import { killLocalSync, readRecord, startLocal } from '../src/local.js';
import { harnessRoot } from '../src/paths.js';
import { currentRun, entryOf, processStart, RUN_ENV, running, sweep, untrack } from '../src/registry.js';
import { groupAlive } from '../src/util.js';

// No broker outlives its run: every broker the harness starts is registered (src/registry.ts) and
// killed when the process that started it and its run are gone, even if no `finally` ran. A child
// process stands in for a test worker; it starts a private NATS server (fast to start).

const child = path.join(harnessRoot, 'specs', 'fixtures', 'private-broker-child.ts');

interface Started {
  pgid: number;
  dir: string;
  recordFile: string;
}

const spawned: ChildProcess[] = [];

function exited(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => c.once('exit', () => resolve()));
}

/** Runs the fixture with the given run id in its environment; resolves with what it started. */
async function startChild(
  then: 'wait' | 'exit',
  run: string,
): Promise<{ proc: ChildProcess; started: Started }> {
  // node --import tsx (not the tsx binary, which would put a wrapper process between us and the child)
  const proc = spawn(process.execPath, ['--import', 'tsx', child, 'nats', then], {
    cwd: harnessRoot,
    env: { ...process.env, [RUN_ENV]: run },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.push(proc);
  let out = '';
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const started = await new Promise<Started>((resolve, reject) => {
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line && out.includes('\n')) resolve(JSON.parse(line) as Started);
    });
    proc.once('exit', (code) =>
      reject(new Error(`the child exited (${code}) before starting its broker: ${err}`)),
    );
    setTimeout(() => reject(new Error(`no broker from the child after 60 s: ${err}`)), 60_000).unref();
  });
  return { proc, started };
}

async function until(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(50);
  }
}

describe('broker registry', () => {
  afterEach(async () => {
    for (const c of spawned.splice(0)) {
      c.kill('SIGKILL');
      await exited(c);
    }
    // whatever a failed test left is a stray now (its owner is dead and its run is a dead pid)
    sweep();
  });

  it('test workers know their run (CARRIER_TEST_RUN from the globalSetup)', () => {
    const run = currentRun();
    expect(run).toBeDefined();
    expect(running(run)).toBe(true);
  });

  it('a brokers:up broker outlives every sweep while its record is there, and is swept once its checkout is deleted', async () => {
    await ensureInstalled('nats');
    // stands in for a checkout's .brokers/up
    const upDir = mkdtempSync(path.join(os.tmpdir(), 'carrier-up-test-'));
    const recordFile = path.join(upDir, 'nats.json');
    let started: Awaited<ReturnType<typeof startLocal>> | undefined;
    try {
      const record = await startLocal('nats', path.join(upDir, 'nats'), recordFile, { persistent: true });
      started = record;
      expect(entryOf(recordFile)?.persistent).toBe(true);
      expect(sweep().map((s) => s.pgid)).not.toContain(record.pid);
      expect(groupAlive(record.pid)).toBe(true);

      rmSync(upDir, { recursive: true, force: true }); // the checkout is deleted before brokers:down
      const swept = sweep().find((s) => s.pgid === record.pid);
      expect(swept).toMatchObject({ name: 'nats', wasRunning: true });
      expect(swept?.reason).toContain('record');
      await until('the broker gone', () => !groupAlive(record.pid));
      expect(entryOf(recordFile)).toBeUndefined();
    } finally {
      // from the record in hand: the test deletes the record file, so a failure after that must not
      // leave the broker running
      if (started) killLocalSync(started);
      else if (existsSync(recordFile)) killLocalSync(readRecord(recordFile));
      untrack(recordFile);
      rmSync(upDir, { recursive: true, force: true });
    }
  });

  it('a private broker whose worker was killed (test timed out) is killed by the next sweep, data dir included', async () => {
    // a run id that is no longer running: this process's parent would be alive, so use a dead pid
    const { proc, started } = await startChild('wait', '999999999:0');
    const entry = entryOf(started.recordFile);
    expect(entry?.owner.pid).toBe(proc.pid);
    expect(entry?.pgid).toBe(started.pgid);
    expect(groupAlive(started.pgid)).toBe(true);

    // the owner is alive: a sweep leaves it alone
    expect(sweep().map((s) => s.pgid)).not.toContain(started.pgid);
    expect(groupAlive(started.pgid)).toBe(true);

    proc.kill('SIGKILL'); // no exit handler runs: the broker is left behind, as after a vitest kill
    await exited(proc);
    expect(groupAlive(started.pgid)).toBe(true);

    const swept = sweep();
    expect(swept.find((s) => s.pgid === started.pgid)).toMatchObject({ name: 'nats', wasRunning: true });
    await until('the broker gone', () => !groupAlive(started.pgid));
    expect(existsSync(started.dir)).toBe(false);
    expect(entryOf(started.recordFile)).toBeUndefined();
  });

  it("a run's teardown kills its workers' brokers even if the worker still runs; other runs' sweeps do not", async () => {
    // a stand-in for another run's main process
    const runProc = spawn('sleep', ['600'], { stdio: 'ignore' });
    spawned.push(runProc);
    const run = { pid: runProc.pid!, start: processStart(runProc.pid!) };
    const { proc, started } = await startChild('wait', `${run.pid}:${run.start ?? ''}`);
    expect(entryOf(started.recordFile)?.run).toEqual(run);

    proc.kill('SIGKILL');
    await exited(proc);
    // its run still goes on: not a stray for anybody else
    expect(sweep().map((s) => s.pgid)).not.toContain(started.pgid);
    expect(groupAlive(started.pgid)).toBe(true);

    // that run's teardown
    expect(sweep({ run }).map((s) => s.pgid)).toContain(started.pgid);
    await until('the broker gone', () => !groupAlive(started.pgid));
  });

  it('a worker that exits without disposing its private broker kills it on exit', async () => {
    const { proc, started } = await startChild('exit', '999999999:0');
    await exited(proc);
    expect(proc.exitCode).toBe(0);
    await until('the broker gone', () => !groupAlive(started.pgid));
    expect(entryOf(started.recordFile)).toBeUndefined();
    expect(existsSync(started.dir)).toBe(false);
  });
});
