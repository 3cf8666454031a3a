// The bridge proof, shared by bridge*.spec.ts: publish N messages on broker A, bridge them
// A → B and back B → A (onto a second topic) with two `carrier bridge` child processes, SIGKILL
// each bridge process twice while it moves and restart it, then check every message arrived
// unchanged at the end of the chain and that `carrier bridge --verify` reports zero missing.
import { createHash, randomBytes } from 'node:crypto';
import { type BatchEntry, connect, type Message, redactUrl } from '@carrier/core';
import { expect } from 'vitest';
import { CliProcess, movedSoFar, runCli } from './cli-support.js';

const fresh = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

function digest(m: {
  raw: Uint8Array;
  key?: string | undefined;
  headers: Readonly<Record<string, string>>;
  contentType: string;
}) {
  return createHash('sha256')
    .update(m.contentType)
    .update('\0')
    .update(m.key ?? '\u0001')
    .update('\0')
    .update(JSON.stringify(Object.entries(m.headers).sort()))
    .update('\0')
    .update(m.raw)
    .digest('hex');
}

/** The i-th test message: JSON, binary or text bodies, 50 keys, two headers, a fixed id. */
function message(
  i: number,
): BatchEntry & { id: string; body: Uint8Array; contentType: string; headers: Record<string, string> } {
  const id = `m-${String(i).padStart(6, '0')}`;
  const headers = { seq: String(i), 'trace.id': randomBytes(4).toString('hex') };
  const key = `k${i % 50}`;
  switch (i % 3) {
    case 0:
      return {
        id,
        key,
        headers,
        contentType: 'application/json',
        body: Buffer.from(`{"seq":${i},  "unknownField":{"x":[${i}]}}`),
      };
    case 1:
      return {
        id,
        key,
        headers,
        contentType: 'application/octet-stream',
        body: new Uint8Array(randomBytes(64)),
      };
    default:
      return { id, key, headers, contentType: 'text/plain; charset=utf-8', body: Buffer.from(`text ${i} ✓`) };
  }
}

/**
 * Run a bridge process; SIGKILL it each time its progress passes the next of `killAt`, and
 * restart it. `ready` resolves once the first process declared its groups; `last` with the
 * process that is left running.
 */
function bridgeWithKills(args: string[], killAt: readonly number[], log: string[]) {
  let p = new CliProcess(args);
  const ready = p.waitFor('the bridge to be ready', (x) => x.stderr.includes('bridge: ready'), 120_000);
  const last = (async () => {
    await ready;
    for (const at of killAt) {
      await p.waitFor(`the bridge to move ${at}`, (x) => movedSoFar(x) >= at, 300_000);
      p.kill('SIGKILL');
      const r = await p.exited;
      log.push(
        `${redactUrl(args[1]!)} → ${redactUrl(args[2]!)}: SIGKILL after the process moved ${movedSoFar(p)}`,
      );
      expect(r.signal).toBe('SIGKILL');
      p = new CliProcess(args);
      await p.waitFor('the restarted bridge to be ready', (x) => x.stderr.includes('bridge: ready'), 120_000);
    }
    return p;
  })();
  return { ready, last };
}

/** Options of {@link bridgeRoundTripProof}. */
export interface ProofOptions {
  /** Broker the messages start on (and come back to). */
  readonly a: string;
  /** Broker in the middle. */
  readonly b: string;
  readonly total: number;
  /** Kill each bridge process when it has moved this many, once per entry. */
  readonly killAt: readonly number[];
}

/** See the file comment. Returns a summary for the test log. */
export async function bridgeRoundTripProof({ a, b, total, killAt }: ProofOptions): Promise<string[]> {
  const log: string[] = [];
  const there = fresh('orders');
  const middle = fresh('orders-middle');
  const back = fresh('orders-back');
  const groupOut = fresh('bridge-out');
  const groupBack = fresh('bridge-back');
  const progress = ['--progress', '500ms'];
  // three topic names, so that the chain never loops even when `a` and `b` are one broker
  const argsOut = ['bridge', a, b, '--topic', `${there}:${middle}`, '--group', groupOut, ...progress];
  const argsBack = ['bridge', b, a, '--topic', `${middle}:${back}`, '--group', groupBack, ...progress];

  const source = await connect(a);
  const checker = await connect(a);
  const arrived = new Map<string, { count: number; digest: string }>();
  const processes: CliProcess[] = [];
  try {
    // the end of the chain: a group on the `back` topic that records what arrives
    await checker.subscribe(back, { group: 'check', concurrency: 64 }, (m: Message) => {
      const seen = arrived.get(m.id);
      if (seen) seen.count++;
      else arrived.set(m.id, { count: 1, digest: digest(m) });
    });
    const out = bridgeWithKills(argsOut, killAt, log);
    const home = bridgeWithKills(argsBack, killAt, log);
    // both bridges have declared their groups (and verify groups) before anything is published
    await Promise.all([out.ready, home.ready]);
    const started = Date.now();
    const expected = new Map<string, string>();
    for (let start = 0; start < total; start += 500) {
      const batch = Array.from({ length: Math.min(500, total - start) }, (_, j) => message(start + j));
      for (const m of batch)
        expected.set(
          m.id,
          digest({ raw: m.body, key: m.key, headers: m.headers, contentType: m.contentType }),
        );
      await source.publishBatch(there, batch);
    }
    log.push(`published ${total} in ${Date.now() - started} ms`);
    const [outLast, homeLast] = await Promise.all([out.last, home.last]);
    processes.push(outLast, homeLast);
    const deadline = Date.now() + 600_000;
    while (arrived.size < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    log.push(
      `all ${arrived.size} ids back on the second topic ${Date.now() - started} ms after the first publish`,
    );
    expect(arrived.size).toBe(total);
    for (const [id, d] of expected)
      expect(arrived.get(id)?.digest, `message ${id} changed on the way`).toBe(d);
    const duplicatesAtEnd = [...arrived.values()].filter((s) => s.count > 1).length;
    log.push(`ids delivered more than once at the end of the chain: ${duplicatesAtEnd}`);

    for (const [p, name] of [
      [outLast, 'out'],
      [homeLast, 'back'],
    ] as const) {
      p.kill('SIGTERM');
      const r = await p.exited;
      log.push(
        `bridge ${name}, last process: ${r.stderr
          .trim()
          .split('\n')
          .filter((l) => l.includes('| moved'))
          .at(-1)}`,
      );
      expect(r.code, `bridge ${name} exit code after SIGTERM\n${r.stderr.slice(-2000)}`).toBe(0);
      expect(r.stderr).toContain('SIGTERM: stopping');
    }

    for (const [args, name] of [
      [argsOut, 'out'],
      [argsBack, 'back'],
    ] as const) {
      const v = await runCli([...args, '--verify', '--idle', '5s', '--show', 'all'], { timeoutMs: 600_000 });
      const summary = v.stdout
        .split('\n')
        .filter((l) => !l.startsWith('      '))
        .join('\n');
      const duplicated = v.stdout.split('\n').filter((l) => / ×\d+$/.test(l));
      log.push(
        `verify ${name} (exit ${v.code}):\n${summary}\n  first duplicates printed: ${duplicated.slice(0, 5).join(', ').replace(/\s+/g, ' ')}`,
      );
      expect(v.code, v.stdout + v.stderr).toBe(0);
      expect(v.stdout).toContain(`source: ${total} ids`);
      expect(v.stdout).toContain('missing on target: 0');
      expect(v.stdout).toContain('differing copies: 0');
      expect(v.stdout).toMatch(/duplicates on target: \d+ ids/);
      expect(v.stdout).toContain('result: OK');
    }
    return log;
  } finally {
    for (const p of processes)
      if (p.child.exitCode === null && p.child.signalCode === null) p.kill('SIGKILL');
    await checker.close();
    await source.close();
  }
}
