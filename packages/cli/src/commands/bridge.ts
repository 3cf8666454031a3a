import { readFile, rename, writeFile } from 'node:fs/promises';
import {
  type Bridge,
  type BridgeProgress,
  bridge,
  describeRoute,
  parseRoutes,
  type RouteVerifyReport,
  type TopicRoute,
  type VerifyCarryOver,
  type VerifyReport,
  verify,
} from '@carrier/bridge';
import { redactUrl } from '@carrier/core';
import { type Context, onStopSignals } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { createProgress, type Progress, progressMode } from '../progress.js';

/** Options of `carrier bridge`. */
export interface BridgeCommandOptions {
  readonly topic: readonly string[];
  readonly group: string;
  /** Group name, or false for `--no-verify-group`, undefined for the default `<group>-verify`. */
  readonly verifyGroup?: string | false | undefined;
  readonly targetGroup: readonly string[];
  /** `--from-beginning`: the bridge's group starts at the source's retained history. */
  readonly fromBeginning?: boolean | undefined;
  readonly concurrency: number;
  readonly batch: number;
  /** Interval of plain progress lines (ms, 0 = none); false with `--no-progress`. */
  readonly progress: number | false;
  readonly json?: boolean | undefined;
  readonly verify?: boolean | undefined;
  readonly since?: Date | undefined;
  readonly until?: Date | undefined;
  readonly idle: number;
  readonly maxWait: number;
  readonly show: number;
  /** `--state FILE`: verify carry-over kept between runs. */
  readonly state?: string | undefined;
}

async function readState(file: string): Promise<VerifyCarryOver | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as VerifyCarryOver;
  } catch {
    throw new CliError(ExitCode.USAGE, `--state ${file} is not a verify state file (invalid JSON)`);
  }
}

async function writeState(file: string, state: VerifyCarryOver): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state)}\n`);
  await rename(tmp, file);
}

function verifyGroupOf(options: BridgeCommandOptions): string | undefined {
  if (options.verifyGroup === false) return undefined;
  return options.verifyGroup ?? `${options.group}-verify`;
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(1)}s`;
}

/** One progress line for people. */
function progressLine(p: BridgeProgress): string {
  return (
    `bridge: ${p.state} | moved ${p.moved} | ${p.rate}/s (avg ${p.averageRate}/s) | in flight ${p.inFlight} | ` +
    `lag ${seconds(p.lagMs)} | dead-lettered ${p.deadLettered} | publish errors ${p.publishErrors}`
  );
}

/** What the live line shows besides count and rate (failures only once there are some: it must fit). */
function liveDetail(p: BridgeProgress): string {
  return [
    p.state,
    `lag ${seconds(p.lagMs)}`,
    `in flight ${p.inFlight}`,
    ...(p.deadLettered > 0 ? [`dead-lettered ${p.deadLettered}`] : []),
    ...(p.publishErrors > 0 ? [`publish errors ${p.publishErrors}`] : []),
  ].join(' | ');
}

/** How often the live line takes a snapshot of the bridge's counters. */
const LIVE_SAMPLE_MS = 250;

/**
 * A live line on a terminal (not with `--json` or `--progress 0`/`--no-progress`): it samples the
 * running bridge and stops with it. Undefined when progress goes out as plain lines or not at all.
 */
function startLiveLine(
  ctx: Context,
  running: Bridge,
  options: BridgeCommandOptions,
): { stop(): void } | undefined {
  const enabled = options.progress !== false && options.progress > 0 && !options.json;
  if (progressMode(ctx.progress.terminal, ctx.progress.env, enabled) !== 'live') return undefined;
  const progress: Progress = createProgress(ctx.io, ctx.progress, {
    label: 'bridge',
    unit: 'moved',
    mode: 'live',
  });
  const sample = () => {
    const p = running.progress();
    progress.update(p.moved, liveDetail(p));
  };
  sample();
  const timer = setInterval(sample, LIVE_SAMPLE_MS);
  return {
    stop: () => {
      clearInterval(timer);
      progress.stop();
    },
  };
}

/** Start the bridge with the command's options, printing its progress and dead letters. */
function startBridge(
  ctx: Context,
  from: string,
  to: string,
  routes: TopicRoute[],
  verifyGroup: string | undefined,
  options: BridgeCommandOptions,
): Promise<Bridge> {
  // on a terminal the live line replaces the periodic lines (except with --json: JSON on stdout)
  const plain = options.json || progressMode(ctx.progress.terminal, ctx.progress.env) !== 'live';
  const print = (p: BridgeProgress) => {
    if (options.json) ctx.io.out(JSON.stringify({ type: 'progress', ...p }));
    else if (plain) ctx.io.err(progressLine(p));
  };
  return bridge({
    from,
    to,
    topics: routes,
    group: options.group,
    verifyGroup,
    targetGroups: options.targetGroup,
    fromBeginning: options.fromBeginning ?? false,
    concurrency: options.concurrency,
    maxBatch: options.batch,
    progressIntervalMs: options.progress === false ? 0 : options.progress,
    onProgress: print,
    onError: (e) => ctx.io.error(e),
    onDeadLetter: (e) => ctx.io.err(`bridge: dead-lettered ${e.id} of ${e.topic} on the source: ${e.reason}`),
  });
}

/**
 * `carrier bridge <from> <to>`: run the bridge until SIGINT/SIGTERM (the first finishes in-flight
 * work and exits 0; a second aborts at once, exit 130, nothing lost), printing progress. With
 * `--verify`, instead compare both sides through the verify group and exit 5 if anything is
 * missing or differs.
 */
export async function bridgeCommand(
  ctx: Context,
  from: string,
  to: string,
  options: BridgeCommandOptions,
): Promise<number> {
  if (options.topic.length === 0) throw new CliError(ExitCode.USAGE, 'give at least one --topic');
  const routes = parseRoutes(options.topic);
  if (options.verify) return verifyCommand(ctx, from, to, options);
  const verifyGroup = verifyGroupOf(options);
  const running = await startBridge(ctx, from, to, routes, verifyGroup, options);
  let aborted = false;
  let abortDone!: () => void;
  const abortedPromise = new Promise<undefined>((resolve) => {
    abortDone = () => resolve(undefined);
  });
  const signals = onStopSignals(ctx.signals, () => {
    if (aborted) return;
    aborted = true;
    ctx.io.err('bridge: second signal: aborting without finishing in-flight work (it will be redelivered)');
    void running.abort().finally(abortDone);
  });
  let live: { stop(): void } | undefined;
  try {
    ctx.io.err(
      `bridge: ready: ${redactUrl(from)} (${running.transports.from}) → ${redactUrl(to)} (${running.transports.to}); ` +
        `topics ${routes.map(describeRoute).join(', ')}; group ${options.group}` +
        (verifyGroup ? `; verify group ${verifyGroup}` : '') +
        (options.fromBeginning ? '; a new group starts at the source history (--from-beginning)' : ''),
    );
    live = startLiveLine(ctx, running, options);
    const signal = await signals.stopped;
    ctx.io.err(`bridge: ${signal}: stopping, finishing ${running.progress().inFlight} in flight`);
    const final = await Promise.race([running.stop(), abortedPromise]);
    live?.stop();
    if (aborted || !final) return ExitCode.ABORTED;
    if (options.json) ctx.io.out(JSON.stringify({ type: 'stopped', ...final }));
    ctx.io.err(progressLine(final));
    return ExitCode.OK;
  } finally {
    live?.stop();
    signals.dispose();
  }
}

function list(ids: readonly string[], show: number): string[] {
  const shown = ids.slice(0, show).map((id) => `      ${id}`);
  if (ids.length > show)
    shown.push(`      … and ${ids.length - show} more (--show to list more, --json for all)`);
  return shown;
}

function routeLines(r: RouteVerifyReport, show: number): string[] {
  const extraTarget = r.duplicates.target.reduce((n, d) => n + d.count - 1, 0);
  const lines = [
    `topic ${r.from === r.to ? r.from : `${r.from} → ${r.to}`}`,
    `  source: ${r.source.ids} ids (${r.source.deliveries} deliveries, ${r.source.outsideWindow} outside the window)`,
    `  target: ${r.target.ids} ids (${r.target.deliveries} deliveries)`,
    `  missing on target: ${r.missing.length}`,
    ...list(r.missing, show),
    `  duplicates on target: ${r.duplicates.target.length} ids (${extraTarget} extra deliveries)`,
    ...list(
      r.duplicates.target.map((d) => `${d.id} ×${d.count}`),
      show,
    ),
    `  duplicates on source: ${r.duplicates.source.length} ids`,
    ...list(
      r.duplicates.source.map((d) => `${d.id} ×${d.count}`),
      show,
    ),
    `  differing copies: ${r.mismatched.length}`,
    ...list(r.mismatched, show),
    `  only on target: ${r.unexpected.length}`,
    ...list(r.unexpected, show),
  ];
  return lines;
}

/** The human report of `--verify`. */
function verifyLines(report: VerifyReport, show: number): string[] {
  const lines: string[] = [];
  for (const r of report.topics) lines.push(...routeLines(r, show));
  const missing = report.topics.reduce((n, t) => n + t.missing.length, 0);
  const mismatched = report.topics.reduce((n, t) => n + t.mismatched.length, 0);
  const duplicates = report.topics.reduce((n, t) => n + t.duplicates.target.length, 0);
  lines.push(
    report.ok
      ? `result: OK: 0 missing, 0 differing, ${duplicates} duplicated ids on the target${report.complete ? '' : ' (INCOMPLETE: --max-wait reached while messages still arrived)'}`
      : `result: FAILED: ${missing} missing, ${mismatched} differing${report.complete ? '' : ' (INCOMPLETE: --max-wait reached while messages still arrived)'}`,
  );
  return lines;
}

async function verifyCommand(
  ctx: Context,
  from: string,
  to: string,
  options: BridgeCommandOptions,
): Promise<number> {
  const group = verifyGroupOf(options);
  if (group === undefined)
    throw new CliError(ExitCode.USAGE, '--verify needs a verify group (not --no-verify-group)');
  ctx.io.err(
    `verify: ${redactUrl(from)} → ${redactUrl(to)} through group ${group}; window ` +
      `${options.since?.toISOString() ?? 'start'} .. ${options.until?.toISOString() ?? 'now'}; reading until idle for ${options.idle} ms`,
  );
  const report = await verify({
    from,
    to,
    topics: options.topic,
    group,
    since: options.since,
    until: options.until,
    idleMs: options.idle,
    maxWaitMs: options.maxWait,
    onError: (e) => ctx.io.error(e),
    onProgress: options.json
      ? undefined
      : (read) => ctx.io.err(`verify: read ${read.source} on the source, ${read.target} on the target`),
    carryOver: options.state === undefined ? undefined : await readState(options.state),
  });
  if (options.state !== undefined) await writeState(options.state, report.carryOver);
  for (const t of report.topics) {
    if (t.source.deliveries === 0 && t.source.outsideWindow === 0) {
      ctx.io.err(
        `verify: note: group ${group} delivered nothing on the source topic ${t.from}: it only sees messages published ` +
          'after it was declared (the bridge declares it when it starts), and each run reads what arrived since the previous one',
      );
    }
  }
  const { carryOver: _kept, ...printed } = report;
  if (options.json) ctx.io.out(JSON.stringify(printed));
  else for (const line of verifyLines(report, options.show)) ctx.io.out(line);
  if (!report.ok) return ExitCode.VERIFY_FAILED;
  return report.complete ? ExitCode.OK : ExitCode.TIMEOUT;
}
