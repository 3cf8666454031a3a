import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// The standalone relay (packages/outbox/src/bin/relay.ts) in its own process, from its TypeScript
// sources (tsx, export condition `carrier-source`), so that specs can SIGKILL it mid-run.

const cwd = fileURLToPath(new URL('..', import.meta.url));
const entry = fileURLToPath(new URL('../../packages/outbox/src/bin/relay.ts', import.meta.url));

export interface RelayChild {
  readonly child: ChildProcess;
  /** Resolves with the first `ready` event; rejects when the process exits before it. */
  readonly ready: Promise<Record<string, unknown>>;
  /** Error events the relay printed on stderr. */
  readonly errors: Record<string, unknown>[];
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (clean close), resolved with the exit code. */
  stop(): Promise<number | null>;
}

/** Start a relay process publishing the outbox of `schema` (at `postgresUrl`) to `carrierUrl`. */
export function spawnRelay(
  carrierUrl: string,
  postgresUrl: string,
  schema: string,
  env: Record<string, string> = {},
): RelayChild {
  const child = spawn(process.execPath, ['--conditions=carrier-source', '--import', 'tsx', entry], {
    cwd,
    env: {
      ...process.env,
      CARRIER_URL: carrierUrl,
      DATABASE_URL: postgresUrl,
      OUTBOX_SCHEMA: schema,
      OUTBOX_POLL_INTERVAL_MS: '100',
      OUTBOX_REBALANCE_INTERVAL_MS: '200',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const errors: Record<string, unknown>[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    try {
      errors.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      errors.push({ event: 'stderr', message: line });
    }
  });
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const event = JSON.parse(line) as Record<string, unknown>;
      if (event.event === 'ready') resolve(event);
    });
    void exited.then((code) =>
      reject(new Error(`the relay process exited (${code}) before it was ready: ${JSON.stringify(errors)}`)),
    );
  });
  ready.catch(() => {});
  return {
    child,
    ready,
    errors,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
