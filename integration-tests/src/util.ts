import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

/** Write a progress line to stderr (stdout is reserved for `brokers:up`'s shell lines). */
export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Hide the password of a URL (`amqp://guest:***@…`). */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
  }
}

export function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

/**
 * Polls `attempt` until it resolves, with short pauses between tries, until `timeoutMs` runs out.
 * `check` runs before each try and may throw to give up early (e.g. the process died).
 */
export async function pollUntil<T>(
  what: string,
  timeoutMs: number,
  attempt: () => Promise<T>,
  check?: () => void,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let pause = 100;
  for (;;) {
    check?.();
    try {
      return await attempt();
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(`${what}: not ready after ${seconds(timeoutMs)} s (last error: ${reason})`);
    }
    await delay(Math.min(pause, Math.max(0, deadline - Date.now())));
    pause = Math.min(pause * 2, 500);
  }
}

/** The last `lines` lines of a (log) file, or a note that it is missing. */
export function tail(file: string, lines = 40): string {
  if (!existsSync(file)) return `(no log file at ${file})`;
  const size = statSync(file).size;
  const length = Math.min(size, 64 * 1024);
  const buf = Buffer.alloc(length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, length, size - length);
  } finally {
    closeSync(fd);
  }
  return buf.toString('utf8').split('\n').slice(-lines).join('\n');
}

function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Whether any live (non-zombie) process of process group `pgid` exists. */
export function groupAlive(pgid: number): boolean {
  if (!(pgid > 0)) return false;
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  // kill(0) also succeeds for zombies that nobody reaped yet: look at /proc.
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') return true;
    } catch {
      // the process went away while we looked
    }
  }
  return false;
}

/** Whether process `pid` runs (not a zombie). */
export function processAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const state = processState(pid);
  return state === undefined ? process.platform !== 'linux' : state !== 'Z';
}

/** Signals a whole process group; ignores a group that is already gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/**
 * SIGTERM the group (or `leaderSignal` to its leader only), wait until it is gone, SIGKILL it after
 * `graceMs`.
 */
export async function stopGroup(
  pgid: number,
  graceMs = 20_000,
  leaderSignal?: NodeJS.Signals,
): Promise<void> {
  if (!groupAlive(pgid)) return;
  if (leaderSignal) {
    try {
      process.kill(pgid, leaderSignal);
    } catch {
      // the leader is gone: the rest of the group goes below
    }
  } else signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) await delay(100);
  if (groupAlive(pgid)) await killGroup(pgid);
}

/** SIGKILL the group and wait until it is gone. */
export async function killGroup(pgid: number): Promise<void> {
  signalGroup(pgid, 'SIGKILL');
  const deadline = Date.now() + 10_000;
  while (groupAlive(pgid)) {
    if (Date.now() > deadline) throw new Error(`process group ${pgid} survived SIGKILL`);
    await delay(50);
  }
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Prefix for each output line written to stderr; output is only kept (for errors) when undefined. */
  prefix?: string;
  /** Run as this OS user and group (numeric ids; needs root). */
  uid?: number;
  gid?: number;
}

/** Runs a command, streaming its output to stderr line by line with a prefix; rejects on non-zero exit. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    let output = '';
    let partial = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output += text;
      if (output.length > 256 * 1024) output = output.slice(-128 * 1024);
      if (options.prefix === undefined) return;
      partial += text;
      const lines = partial.split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const line of lines) {
        // biome-ignore lint/suspicious/noControlCharactersInRegex: strips terminal colour codes
        const clean = line.replace(/\u001b\[[0-9;]*m/g, '').trimEnd();
        if (clean) log(`${options.prefix} ${clean}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(output);
      else {
        const err = new Error(
          `${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${output.split('\n').slice(-30).join('\n')}`,
        );
        reject(err);
      }
    });
  });
}
