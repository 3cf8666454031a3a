// Helpers of the cli*.spec.ts and bridge*.spec.ts specs: run the real `carrier` binary as a child
// process (built from packages/cli), wait on its output with deadlines, signal it.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { withLock } from '../src/lock.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** The built `carrier` entry point. */
export const CARRIER_BIN = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));

/**
 * Build packages/cli and what it references (incremental: fast when up to date). Spec files run in
 * parallel, so the build holds a machine-wide lock: two `tsc -b` writing one dist/ at once leave a
 * half-written file for whoever reads it in between (a `carrier` started by another spec).
 */
export async function buildCli(): Promise<void> {
  await withLock('build-cli', async () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const r = spawnSync(process.execPath, [tsc, '-b', 'packages/cli'], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`building packages/cli failed:\n${r.stdout}${r.stderr}`);
  });
}

/** A finished `carrier` run. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running `carrier` process. */
export class CliProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<CliResult>;

  constructor(args: readonly string[], input?: string | Uint8Array) {
    this.child = spawn(process.execPath, [CARRIER_BIN, ...args], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
    });
    this.exited = new Promise((resolve, reject) => {
      this.child.once('error', reject);
      this.child.once('close', (code, signal) =>
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr }),
      );
    });
    if (input !== undefined) this.child.stdin!.end(input);
    else this.child.stdin!.end();
  }

  /** Resolves once `predicate` holds for the output so far; fails at the deadline or if the process exits. */
  async waitFor(what: string, predicate: (p: CliProcess) => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let done = false;
    void this.exited.then(() => {
      done = true;
    });
    while (!predicate(this)) {
      if (done && !predicate(this)) {
        throw new Error(`carrier exited before ${what}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}\nstderr:\n${this.stderr.slice(-4000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Send a signal. */
  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

/** Run `carrier` to completion (killed with SIGKILL after `timeoutMs`). */
export async function runCli(
  args: readonly string[],
  options: { input?: string | Uint8Array; timeoutMs?: number } = {},
): Promise<CliResult> {
  const p = new CliProcess(args, options.input);
  const timer = setTimeout(() => p.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  try {
    return await p.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** The highest `moved N` a bridge process printed so far in its progress lines. */
export function movedSoFar(p: CliProcess): number {
  let max = 0;
  for (const m of p.stderr.matchAll(/\| moved (\d+) \|/g)) max = Math.max(max, Number(m[1]));
  return max;
}
