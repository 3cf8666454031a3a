import { randomBytes } from 'node:crypto';
import { type Carrier, connect, NonRetryableError, redactUrl, type Subscription } from '@carrier/core';
import { type Context, delay } from '../context.js';
import { CliError, ExitCode, exitCodeFor } from '../exit-codes.js';

/** Scratch topic of `carrier doctor` (fixed, so repeated runs reuse it instead of leaving new ones). */
export const DOCTOR_TOPIC = 'carrier.doctor';
/** Scratch group of `carrier doctor`. */
export const DOCTOR_GROUP = 'doctor';

/** One check of the doctor. */
export interface DoctorCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly detail: string;
}

async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new CliError(ExitCode.TIMEOUT, `${what}: nothing within ${timeoutMs} ms`);
    await delay(10);
  }
}

const equalBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/**
 * `carrier doctor <url>`: connect, print the transport and its capabilities, then on the scratch
 * topic `carrier.doctor` (or `--topic`): declare the topology, publish a message and consume it back (checking
 * bytes, key and headers), then dead-letter a second message and read it back from the group's
 * dead letters. Each step proves the permissions it needs (create, write, read, settle).
 */
export async function doctorCommand(
  ctx: Context,
  url: string,
  options: { json?: boolean | undefined; timeout: number; topic?: string | undefined },
): Promise<number> {
  const topic = options.topic ?? DOCTOR_TOPIC;
  const checks: DoctorCheck[] = [];
  const print = (check: DoctorCheck) => {
    checks.push(check);
    if (!options.json)
      ctx.io.out(`${check.ok ? 'ok  ' : 'FAIL'} ${check.name} (${check.ms} ms): ${check.detail}`);
  };
  const step = async <T>(name: string, run: () => Promise<[T, string]>): Promise<T> => {
    const started = Date.now();
    try {
      const [value, detail] = await run();
      print({ name, ok: true, ms: Date.now() - started, detail });
      return value;
    } catch (error) {
      print({
        name,
        ok: false,
        ms: Date.now() - started,
        detail: ctx.io.clean(error instanceof Error ? error.message : String(error)),
      });
      throw error;
    }
  };
  if (!options.json) ctx.io.out(`carrier doctor ${redactUrl(url)}`);
  let carrier: Carrier | undefined;
  const subscriptions: Subscription[] = [];
  let code: number = ExitCode.OK;
  let capabilities: Carrier['capabilities'] | undefined;
  try {
    const c = await step('connect', async () => {
      const connected = await connect(url, { onError: (e) => ctx.io.error(e) });
      return [connected, `transport ${connected.transportName}`];
    });
    carrier = c;
    capabilities = c.capabilities;
    if (!options.json) {
      ctx.io.out(`transport: ${c.transportName}`);
      ctx.io.out('capabilities:');
      for (const [k, v] of Object.entries(c.capabilities)) ctx.io.out(`  ${k}: ${String(v)}`);
    }
    await step('declare', async () => {
      await c.declare(topic, [DOCTOR_GROUP]);
      return [undefined, `topic ${topic}, group ${DOCTOR_GROUP}`];
    });
    const token = randomBytes(8).toString('hex');
    const sentBody = new Uint8Array(randomBytes(32));
    const probeId = `doctor-${token}`;
    const deadId = `doctor-${token}-dead`;
    let received: { raw: Uint8Array; key: string | undefined; headers: Record<string, string> } | undefined;
    let deadLettered = false;
    await step('subscribe', async () => {
      subscriptions.push(
        await c.subscribe(topic, { group: DOCTOR_GROUP, concurrency: 4 }, (m) => {
          if (m.id === deadId) throw new NonRetryableError('carrier doctor: dead-letter probe');
          if (m.id === probeId) received = { raw: m.raw, key: m.key, headers: { ...m.headers } };
          // anything else is left over from an earlier run: acknowledged and ignored
        }),
      );
      return [undefined, `group ${DOCTOR_GROUP} consuming`];
    });
    await step('round trip', async () => {
      const started = Date.now();
      await c.publish(topic, sentBody, { id: probeId, key: 'doctor', headers: { probe: token } });
      const confirmed = Date.now() - started;
      await waitUntil(() => received !== undefined, options.timeout, 'round trip');
      const r = received!;
      if (!equalBytes(r.raw, sentBody) || r.key !== 'doctor' || r.headers.probe !== token) {
        throw new CliError(ExitCode.BROKER, 'the message came back altered (bytes, key or headers differ)');
      }
      return [undefined, `published (confirmed in ${confirmed} ms) and consumed back unchanged`];
    });
    await step('dead letters', async () => {
      await c.publish(topic, 'dead-letter probe', { id: deadId });
      const dlq = c.deadLetters(topic, DOCTOR_GROUP);
      subscriptions.push(
        await dlq.subscribe((letter) => {
          if (letter.message.id === deadId) deadLettered = true;
        }),
      );
      await waitUntil(() => deadLettered, options.timeout, 'dead letter');
      return [undefined, "a failed message reached the group's dead letters and was read back"];
    });
  } catch (error) {
    code = exitCodeFor(error);
  } finally {
    await Promise.allSettled(subscriptions.map((s) => s.close()));
    await carrier?.close().catch(() => undefined);
  }
  const ok = code === ExitCode.OK;
  if (options.json) {
    ctx.io.out(
      JSON.stringify({
        url: redactUrl(url),
        ok,
        transport: carrier?.transportName ?? null,
        capabilities: capabilities ?? null,
        checks,
      }),
    );
  } else {
    ctx.io.out(ok ? 'doctor: all checks passed' : 'doctor: FAILED');
  }
  return code;
}
