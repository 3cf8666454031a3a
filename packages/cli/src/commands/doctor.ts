import { randomBytes } from 'node:crypto';
import { type Carrier, connect, NonRetryableError, redactUrl, type Subscription } from '@carrier/core';
import { type Context, delay } from '../context.js';
import { CliError, ExitCode, exitCodeFor } from '../exit-codes.js';

/** Scratch topic of `carrier doctor` (fixed, so repeated runs reuse it instead of leaving new ones). */
const DOCTOR_TOPIC = 'carrier.doctor';
/** Scratch group of `carrier doctor`. */
const DOCTOR_GROUP = 'doctor';

/** One check of the doctor. */
export interface DoctorCheck {
  /** `connect`, `declare`, `subscribe`, `round trip` or `dead letters`. */
  readonly name: string;
  readonly ok: boolean;
  /** How long the check took, in milliseconds. */
  readonly ms: number;
  /** What the check found, or the error message (credentials scrubbed) when it failed. */
  readonly detail: string;
}

/** Options of `carrier doctor`. */
export interface DoctorOptions {
  /** Print one JSON object with every check instead of lines. */
  readonly json?: boolean | undefined;
  /** Longest wait for each round trip, in milliseconds (`--timeout`, default 30000). */
  readonly timeout: number;
  /** Scratch topic instead of `carrier.doctor`; with `group`, the topic whose lag is read. */
  readonly topic?: string | undefined;
  /**
   * Read the lag of this group on `topic` (required then) instead of the scratch checks: connect,
   * capabilities and a `lag` check, nothing published or consumed (safe on a production topic).
   */
  readonly group?: string | undefined;
}

/** What one doctor run has found and holds so far; its checks fill it in order. */
interface DoctorRun {
  readonly ctx: Context;
  readonly options: DoctorOptions;
  readonly topic: string;
  readonly checks: DoctorCheck[];
  readonly subscriptions: Subscription[];
  carrier?: Carrier | undefined;
  capabilities?: Carrier['capabilities'] | undefined;
  /** What the `lag` check read (with `--group`). */
  lag?: { topic: string; group: string; messages: number; source: string } | undefined;
}

/** The probe messages of one run: random id and body, so leftovers of earlier runs are told apart. */
interface Probe {
  readonly token: string;
  readonly body: Uint8Array;
  readonly id: string;
  readonly deadId: string;
  received?: { raw: Uint8Array; key: string | undefined; headers: Record<string, string> } | undefined;
  deadLettered: boolean;
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
 * dead letters. Each step proves the permissions it needs (create, write, read, settle). With
 * `--group` (and `--topic`): only connect and read that group's lag (`carrier.lag`), read-only.
 *
 * @returns the exit code: 0 when every check passed, else the code of the first failure
 *   (3 connection, 4 broker refused or message altered, 6 timed out, …; see `ExitCode`).
 */
export async function doctorCommand(ctx: Context, url: string, options: DoctorOptions): Promise<number> {
  if (options.group !== undefined && options.topic === undefined) {
    ctx.io.err('doctor: --group needs --topic (the topic whose lag to read)');
    return ExitCode.USAGE;
  }
  const run: DoctorRun = {
    ctx,
    options,
    topic: options.topic ?? DOCTOR_TOPIC,
    checks: [],
    subscriptions: [],
  };
  if (!options.json) ctx.io.out(`carrier doctor ${redactUrl(url)}`);
  let code: number = ExitCode.OK;
  try {
    await runChecks(run, url);
  } catch (error) {
    code = exitCodeFor(error);
  } finally {
    await Promise.allSettled(run.subscriptions.map((s) => s.close()));
    await run.carrier?.close().catch(() => undefined);
  }
  printSummary(run, url, code === ExitCode.OK);
  return code;
}

/** Run every check in order; the first that fails throws. */
async function runChecks(run: DoctorRun, url: string): Promise<void> {
  const carrier = await checkConnect(run, url);
  if (run.options.group !== undefined) return checkLag(run, carrier, run.options.group);
  await checkDeclare(run, carrier);
  const token = randomBytes(8).toString('hex');
  const probe: Probe = {
    token,
    body: new Uint8Array(randomBytes(32)),
    id: `doctor-${token}`,
    deadId: `doctor-${token}-dead`,
    deadLettered: false,
  };
  await checkSubscribe(run, carrier, probe);
  await checkRoundTrip(run, carrier, probe);
  await checkDeadLetters(run, carrier, probe);
}

/** Record and print one check: its time, and its detail or its error (which is rethrown). */
async function step<T>(run: DoctorRun, name: string, check: () => Promise<[T, string]>): Promise<T> {
  const started = Date.now();
  try {
    const [value, detail] = await check();
    print(run, { name, ok: true, ms: Date.now() - started, detail });
    return value;
  } catch (error) {
    const detail = run.ctx.io.clean(error instanceof Error ? error.message : String(error));
    print(run, { name, ok: false, ms: Date.now() - started, detail });
    throw error;
  }
}

function print(run: DoctorRun, check: DoctorCheck): void {
  run.checks.push(check);
  if (!run.options.json)
    run.ctx.io.out(`${check.ok ? 'ok  ' : 'FAIL'} ${check.name} (${check.ms} ms): ${check.detail}`);
}

/** `connect`: reach the broker; prints the transport and its capabilities. */
async function checkConnect(run: DoctorRun, url: string): Promise<Carrier> {
  const { ctx } = run;
  const carrier = await step(run, 'connect', async () => {
    const connected = await connect(url, { onError: (e) => ctx.io.error(e) });
    return [connected, `transport ${connected.transportName}`];
  });
  run.carrier = carrier;
  run.capabilities = carrier.capabilities;
  if (!run.options.json) {
    ctx.io.out(`transport: ${carrier.transportName}`);
    ctx.io.out('capabilities:');
    for (const [k, v] of Object.entries(carrier.capabilities)) ctx.io.out(`  ${k}: ${String(v)}`);
  }
  return carrier;
}

/** `declare`: create (or find) the scratch topic and group. */
async function checkDeclare(run: DoctorRun, carrier: Carrier): Promise<void> {
  await step(run, 'declare', async () => {
    await carrier.declare(run.topic, [DOCTOR_GROUP]);
    return [undefined, `topic ${run.topic}, group ${DOCTOR_GROUP}`];
  });
}

/** `subscribe`: consume the scratch group, keeping the probe and dead-lettering the dead probe. */
async function checkSubscribe(run: DoctorRun, carrier: Carrier, probe: Probe): Promise<void> {
  await step(run, 'subscribe', async () => {
    run.subscriptions.push(
      await carrier.subscribe(run.topic, { group: DOCTOR_GROUP, concurrency: 4 }, (m) => {
        if (m.id === probe.deadId) throw new NonRetryableError('carrier doctor: dead-letter probe');
        if (m.id === probe.id) probe.received = { raw: m.raw, key: m.key, headers: { ...m.headers } };
        // anything else is left over from an earlier run: acknowledged and ignored
      }),
    );
    return [undefined, `group ${DOCTOR_GROUP} consuming`];
  });
}

/** `round trip`: publish the probe and wait for it to come back with the same bytes, key and headers. */
async function checkRoundTrip(run: DoctorRun, carrier: Carrier, probe: Probe): Promise<void> {
  await step(run, 'round trip', async () => {
    const started = Date.now();
    await carrier.publish(run.topic, probe.body, {
      id: probe.id,
      key: 'doctor',
      headers: { probe: probe.token },
    });
    const confirmed = Date.now() - started;
    await waitUntil(() => probe.received !== undefined, run.options.timeout, 'round trip');
    const r = probe.received!;
    if (!equalBytes(r.raw, probe.body) || r.key !== 'doctor' || r.headers.probe !== probe.token) {
      throw new CliError(ExitCode.BROKER, 'the message came back altered (bytes, key or headers differ)');
    }
    return [undefined, `published (confirmed in ${confirmed} ms) and consumed back unchanged`];
  });
}

/** `dead letters`: publish the dead probe and read it back from the group's dead letters. */
async function checkDeadLetters(run: DoctorRun, carrier: Carrier, probe: Probe): Promise<void> {
  await step(run, 'dead letters', async () => {
    await carrier.publish(run.topic, 'dead-letter probe', { id: probe.deadId });
    const dlq = carrier.deadLetters(run.topic, DOCTOR_GROUP);
    run.subscriptions.push(
      await dlq.subscribe((letter) => {
        if (letter.message.id === probe.deadId) probe.deadLettered = true;
      }),
    );
    await waitUntil(() => probe.deadLettered, run.options.timeout, 'dead letter');
    return [undefined, "a failed message reached the group's dead letters and was read back"];
  });
}

/** `lag`: how many messages `group` has not consumed on the topic, as the broker counts them. */
async function checkLag(run: DoctorRun, carrier: Carrier, group: string): Promise<void> {
  await step(run, 'lag', async () => {
    const signal = AbortSignal.timeout(run.options.timeout);
    const lag = await carrier.lag(run.topic, group, { signal }).catch((error: unknown) => {
      if (!signal.aborted) throw error;
      throw new CliError(ExitCode.TIMEOUT, `lag: no answer within ${run.options.timeout} ms`);
    });
    run.lag = { topic: run.topic, group, ...lag };
    return [
      undefined,
      `group ${group} of ${run.topic}: ${lag.messages} message(s) not consumed (${lag.source})`,
    ];
  });
}

/** The last line, or with `--json` the one JSON object of the run. */
function printSummary(run: DoctorRun, url: string, ok: boolean): void {
  if (run.options.json) {
    run.ctx.io.out(
      JSON.stringify({
        url: redactUrl(url),
        ok,
        transport: run.carrier?.transportName ?? null,
        capabilities: run.capabilities ?? null,
        ...(run.lag ? { lag: run.lag } : {}),
        checks: run.checks,
      }),
    );
  } else {
    run.ctx.io.out(ok ? 'doctor: all checks passed' : 'doctor: FAILED');
  }
}
