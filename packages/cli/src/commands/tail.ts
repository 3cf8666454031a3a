import { type Carrier, CarrierError, connect, redactUrl, type Subscription } from '@carrier/core';
import { type Context, onStopSignals } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { messageRecord, prettyMessage } from '../format.js';

/** Default group of `carrier tail` (durable: a later tail resumes where this one stopped). */
export const DEFAULT_TAIL_GROUP = 'carrier-tail';

/** Options of `carrier tail`. */
export interface TailCommandOptions {
  readonly group: string;
  readonly json?: boolean | undefined;
  readonly count?: number | undefined;
  readonly timeout?: number | undefined;
  /** Print the group's lag again every this many ms (`--lag-every`); absent: once, at the start. */
  readonly lagEvery?: number | undefined;
}

/**
 * Print the group's lag on stderr (`tail: lag …`): how many messages it has not consumed yet, as
 * the broker counts them. Quiet once the carrier is closing; a transport that cannot tell says so once.
 */
async function printLag(ctx: Context, carrier: Carrier, topic: string, group: string): Promise<boolean> {
  try {
    const lag = await carrier.lag(topic, group, { signal: AbortSignal.timeout(10_000) });
    ctx.io.err(`tail: lag of group ${group}: ${lag.messages} message(s) not consumed (${lag.source})`);
    return true;
  } catch (error) {
    if (error instanceof CarrierError && error.code === 'CLOSED') return false;
    const why = error instanceof Error ? error.message : String(error);
    ctx.io.err(`tail: lag of group ${group} unknown: ${ctx.io.clean(why)}`);
    return !(error instanceof CarrierError && error.code === 'UNSUPPORTED');
  }
}

/**
 * `carrier tail <url> <topic>`: consume the topic as a member of `--group` and print each message
 * (pretty, or one JSON object per line with `--json`), acknowledging it once printed. Ends on
 * SIGINT/SIGTERM (the message being printed is finished and acknowledged), after `--count`
 * messages, or at `--timeout` (exit 6 if `--count` was not reached by then). Prints the group's
 * lag (`carrier.lag`) on stderr once it consumes, and every `--lag-every` if given.
 */
export async function tailCommand(
  ctx: Context,
  url: string,
  topic: string,
  options: TailCommandOptions,
): Promise<number> {
  const carrier = await connect(url, { onError: (e) => ctx.io.error(e) });
  let seen = 0;
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });
  const signals = onStopSignals(ctx.signals, () => {
    void carrier.abort().then(() => finish(ExitCode.ABORTED));
  });
  void signals.stopped.then(() => finish(ExitCode.OK));
  const timer =
    options.timeout === undefined
      ? undefined
      : setTimeout(() => {
          if (options.count !== undefined) {
            ctx.io.err(`tail: ${seen} of ${options.count} messages within ${options.timeout} ms`);
            finish(ExitCode.TIMEOUT);
          } else finish(ExitCode.OK);
        }, options.timeout);
  let subscription: Subscription | undefined;
  let lagTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  let closing: Promise<void> | undefined;
  // Closing at once (from inside the last handler) makes the consumer give back, not start,
  // any further delivery: `--count N` consumes exactly N messages.
  const closeSubscription = () => {
    if (subscription) closing ??= subscription.close();
  };
  try {
    subscription = await carrier.subscribe(topic, { group: options.group, concurrency: 1 }, (message) => {
      if (options.json) ctx.io.out(JSON.stringify(messageRecord(message)));
      else for (const line of prettyMessage(message)) ctx.io.out(line);
      seen++;
      if (options.count !== undefined && seen >= options.count) {
        closeSubscription();
        finish(ExitCode.OK);
      }
    });
    if (options.count !== undefined && seen >= options.count) closeSubscription();
    ctx.io.err(`tail: ${topic} on ${redactUrl(url)} as group ${options.group} (Ctrl-C to stop)`);
    const lagging = printLag(ctx, carrier, topic, options.group);
    if (options.lagEvery !== undefined) {
      const every = options.lagEvery;
      void lagging.then((again) => {
        if (again && !stopped)
          lagTimer = setInterval(() => void printLag(ctx, carrier, topic, options.group), every);
      });
    }
    const code = await finished;
    stopped = true;
    if (lagTimer) clearInterval(lagTimer);
    await lagging;
    if (code !== ExitCode.ABORTED) {
      closeSubscription();
      await closing;
    }
    return code;
  } finally {
    if (timer) clearTimeout(timer);
    if (lagTimer) clearInterval(lagTimer);
    signals.dispose();
    await carrier.close();
  }
}
