/**
 * Runs the shell blocks of the docs as a newcomer would type them, so that a documented command
 * that stopped working fails CI. Every ```sh / ```bash block of README.md files and docs/ is
 * either run or visibly marked as not runnable here, with a comment on the line before it:
 *
 *   <!-- needs: brokers -->          not run: needs what CI's shell does not have (a broker, a CLI
 *                                    such as kcat, the packages on the npm registry, your app, or
 *                                    a long time); the reason is printed
 *   <!-- run: fresh-clone -->        run in a new `git clone` of this repository (for `npm ci …`:
 *                                    what a newcomer gets), one clone per block
 *   (no marker)                      run at the root of this checkout, with what is installed and
 *                                    built here
 *
 * Each block runs with `bash -e -o pipefail`, for at most 5 minutes. A fresh clone reuses this
 * checkout's turbo cache (TURBO_CACHE_DIR), so its `npm run build` replays the build done here,
 * and npm's cache without audit, fund or freshness checks (the lockfile decides what is installed).
 * A fresh clone is made from the checked-out commit: commit doc changes before running it.
 *
 * Usage: tsx scripts/run-shell-blocks.ts [--list] [FILE.md…]
 * Exit code 1 when a block fails.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allBlocks, type Block, where } from './markdown-blocks.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SHELL = new Set(['sh', 'bash', 'shell']);
const TIMEOUT_MS = 5 * 60_000;
const args = process.argv.slice(2);
const listOnly = args.includes('--list');
const files = args.filter((a) => !a.startsWith('--'));

const blocks = allBlocks(root).filter(
  (b) => SHELL.has(b.lang) && (files.length === 0 || files.includes(b.file)),
);
let failures = 0;
for (const block of blocks) {
  const needs = block.markers.needs;
  const fresh = block.markers.run === 'fresh-clone';
  if (needs !== undefined) {
    console.log(`skip   ${where(block)}  (needs: ${needs})`);
    continue;
  }
  if (listOnly) {
    console.log(`run    ${where(block)}  (${fresh ? 'fresh clone' : 'this checkout'})`);
    continue;
  }
  const started = Date.now();
  const result = fresh ? await inFreshClone(block) : await runBlock(block, root, {});
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  const place = fresh ? 'fresh clone' : 'this checkout';
  if (result.code === 0) console.log(`ok     ${where(block)}  (${place}, ${seconds}s)`);
  else {
    failures++;
    console.log(`FAILED ${where(block)}  (${place}, ${seconds}s, ${result.why})`);
    console.log(indent(block.code.join('\n'), '  $ '));
    console.log(indent(result.output.split('\n').slice(-40).join('\n'), '  | '));
  }
}
if (failures > 0) {
  console.log(`${failures} shell block(s) failed: fix the docs or the commands they describe.`);
  process.exit(1);
}

interface Result {
  code: number;
  why: string;
  output: string;
}

async function inFreshClone(block: Block): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'carrier-fresh-clone-'));
  try {
    const clone = await run('git', ['clone', '--quiet', root, dir], root, {});
    if (clone.code !== 0) return clone;
    return await runBlock(block, dir, {
      TURBO_CACHE_DIR: join(root, '.turbo', 'cache'),
      // npm's network round trips that do not change what gets installed (the lockfile decides)
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_prefer_offline: 'true',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runBlock(block: Block, cwd: string, env: Record<string, string>): Promise<Result> {
  return run('bash', ['-e', '-o', 'pipefail', '-c', block.code.join('\n')], cwd, env);
}

/** Runs a command in a process group of its own, killed as a whole at the timeout. */
function run(command: string, argv: string[], cwd: string, env: Record<string, string>): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(command, argv, {
      cwd,
      env: { ...process.env, ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-100_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const why = timedOut ? `timed out after ${TIMEOUT_MS / 1000}s` : `exit ${code ?? signal}`;
      resolve({ code: code ?? 1, why, output });
    });
  });
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => prefix + line)
    .join('\n');
}
