import cliProgress from 'cli-progress';

/**
 * How a long-running command shows progress on stderr:
 * - `live`: one line redrawn in place (cli-progress), cleared when the command ends;
 * - `plain`: a log line at most every `plainIntervalMs` (for pipes, files, CI logs);
 * - `off`: nothing (`--no-progress`).
 *
 * Results on stdout never change with the mode.
 */
export type ProgressMode = 'live' | 'plain' | 'off';

/** The command's stderr as far as progress needs it (`process.stderr` in the real command). */
export interface ProgressTerminal {
  write(text: string): unknown;
  /** True when stderr is a terminal (`tty.WriteStream.isTTY`). */
  readonly isTTY?: boolean | undefined;
  /** Terminal width in characters (`tty.WriteStream.columns`); default 80. */
  readonly columns?: number | undefined;
}

/** Environment variables that choose the progress mode (`CI`, `TERM`, `NO_COLOR`, the locale; `process.env` in the real command). */
export type ProgressEnvironment = Readonly<Record<string, string | undefined>>;

/** What {@link createProgress} draws with: where, under which environment, whether at all. */
export interface ProgressSettings {
  readonly terminal: ProgressTerminal;
  readonly env: ProgressEnvironment;
}

/** A line printer that scrubs credentials (the command's `Output`). */
export interface ProgressOutput {
  /** Scrub `text` of every known secret. */
  clean(text: string): string;
  /** Print a line on stderr (scrubbed). */
  err(line: string): void;
  /** Tell the output a live line is on screen, so it clears it before writing (undefined: none). */
  setLiveLine(line: LiveLine | undefined): void;
}

/** A live line that other output must clear before writing. */
export interface LiveLine {
  /** Clear the line if drawn; the next frame (at most 1/fps later) draws it again. */
  interrupt(): void;
}

const isSet = (value: string | undefined): boolean =>
  value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';

/**
 * `live` when stderr is a terminal, `plain` when it is not (pipe, file) or when `CI` is set (CI
 * logs keep every carriage return) or `TERM=dumb`; `off` when `enabled` is false (`--no-progress`).
 */
export function progressMode(
  terminal: ProgressTerminal,
  env: ProgressEnvironment,
  enabled = true,
): ProgressMode {
  if (!enabled) return 'off';
  if (terminal.isTTY !== true) return 'plain';
  if (isSet(env.CI) || env.TERM === 'dumb') return 'plain';
  return 'live';
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** First word(s) of every line, e.g. `publish`. */
  readonly label: string;
  /** What is counted, plural, e.g. `messages`. */
  readonly unit: string;
  /** How many there will be, when known: adds a bar, a percentage and an ETA. */
  readonly total?: number | undefined;
  /** `live`, `plain` or `off` (see {@link progressMode}). */
  readonly mode: ProgressMode;
  /** Plain mode: at most one line per this many milliseconds (0: none). Default 5000. */
  readonly plainIntervalMs?: number | undefined;
  /** Live mode: redraws per second. Default 5. */
  readonly fps?: number | undefined;
  /** Clock (tests). Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/** Progress of one command: it reports counts, the mode decides how they are shown. */
export interface Progress {
  readonly mode: ProgressMode;
  /** `done` so far; `detail` is appended to the line (e.g. `lag 1.2s`). */
  update(done: number, detail?: string): void;
  /** End: the live line is cleared (print the summary after this). Idempotent. */
  stop(): void;
}

/** Messages per second over the last `windowMs` (default 10 s). */
export class RateMeter {
  readonly #windowMs: number;
  #samples: { at: number; done: number }[];

  constructor(start: number, windowMs = 10_000) {
    this.#windowMs = windowMs;
    this.#samples = [{ at: start, done: 0 }];
  }

  record(at: number, done: number): void {
    this.#samples.push({ at, done });
    // keep one sample at or before the window's start as the base
    while (this.#samples.length > 2 && this.#samples[1]!.at <= at - this.#windowMs) this.#samples.shift();
  }

  /** Rate at `now` (per second): it falls while nothing moves; 0 before anything moved. */
  rate(now: number): number {
    const base = this.#samples[0]!;
    const last = this.#samples.at(-1)!;
    const seconds = (now - base.at) / 1000;
    return seconds > 0 ? Math.max(0, last.done - base.done) / seconds : 0;
  }
}

/** `42s`, `3m05s`, `2h03m`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function formatRate(rate: number): string {
  return rate >= 100 ? String(Math.round(rate)) : rate.toFixed(1);
}

/** The text of a progress line (without a bar). */
function describe(
  options: ProgressOptions,
  done: number,
  rate: number,
  elapsedMs: number,
  detail: string | undefined,
): string {
  const parts: string[] = [];
  const { total } = options;
  if (total !== undefined) {
    const remaining = Math.max(0, total - done);
    const eta = remaining === 0 ? '0s' : rate > 0 ? formatDuration(remaining / rate) : '?';
    parts.push(`${done}/${total} ${options.unit}`, `${formatRate(rate)}/s`, `ETA ${eta}`);
  } else {
    parts.push(
      `${done} ${options.unit}`,
      `${formatRate(rate)}/s`,
      `elapsed ${formatDuration(elapsedMs / 1000)}`,
    );
  }
  if (detail) parts.push(detail);
  return parts.join(' | ');
}

/**
 * Start showing progress on `settings.terminal` in `options.mode`. Every line goes through
 * `output.clean`, so credentials never appear.
 */
export function createProgress(
  output: ProgressOutput,
  settings: ProgressSettings,
  options: ProgressOptions,
): Progress {
  if (options.mode === 'live') return new LiveProgress(output, settings, options);
  if (options.mode === 'plain') return new PlainProgress(output, options);
  return { mode: 'off', update: () => {}, stop: () => {} };
}

/** Periodic log lines: `publish: 1200/5000 messages | 340/s | ETA 11s`. */
class PlainProgress implements Progress {
  readonly mode = 'plain';
  readonly #output: ProgressOutput;
  readonly #options: ProgressOptions;
  readonly #now: () => number;
  readonly #started: number;
  readonly #rate: RateMeter;
  readonly #intervalMs: number;
  #lastLine: number;

  constructor(output: ProgressOutput, options: ProgressOptions) {
    this.#output = output;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#started = this.#now();
    this.#lastLine = this.#started;
    this.#rate = new RateMeter(this.#started);
    this.#intervalMs = options.plainIntervalMs ?? 5_000;
  }

  update(done: number, detail?: string): void {
    const now = this.#now();
    this.#rate.record(now, done);
    if (this.#intervalMs <= 0 || now - this.#lastLine < this.#intervalMs) return;
    this.#lastLine = now;
    const text = describe(this.#options, done, this.#rate.rate(now), now - this.#started, detail);
    this.#output.err(`${this.#options.label}: ${text}`);
  }

  stop(): void {}
}

/**
 * One line redrawn in place with cli-progress's MultiBar (which, unlike SingleBar, does not save and
 * restore the cursor position, so lines printed meanwhile are not overwritten): other output clears
 * it first ({@link LiveLine.interrupt}) and the next frame redraws it below.
 */
class LiveProgress implements Progress, LiveLine {
  readonly mode = 'live';
  readonly #output: ProgressOutput;
  readonly #terminal: ProgressTerminal;
  readonly #options: ProgressOptions;
  readonly #now: () => number;
  readonly #started: number;
  readonly #rate: RateMeter;
  readonly #bars: cliProgress.MultiBar;
  readonly #bar: cliProgress.SingleBar;
  #done = 0;
  #detail: string | undefined;
  readonly #frameMs: number;
  #drawn = false;
  #drawnAt = Number.NEGATIVE_INFINITY;
  #stopped = false;

  constructor(output: ProgressOutput, settings: ProgressSettings, options: ProgressOptions) {
    this.#output = output;
    this.#terminal = settings.terminal;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#started = this.#now();
    this.#rate = new RateMeter(this.#started);
    this.#frameMs = 1000 / (options.fps ?? 5);
    // block characters only where the locale says UTF-8 (LC_ALL, then LC_CTYPE, then LANG)
    const locale = settings.env.LC_ALL || settings.env.LC_CTYPE || settings.env.LANG || '';
    const ascii = isSet(settings.env.NO_COLOR) || !/utf-?8/i.test(locale);
    const terminal = settings.terminal;
    // cli-progress only needs write, isTTY and columns of its stream
    const stream = {
      write: (text: string) => {
        terminal.write(text);
        return true;
      },
      isTTY: true,
      get columns() {
        return terminal.columns;
      },
    } as unknown as NodeJS.WritableStream;
    this.#bars = new cliProgress.MultiBar({
      stream,
      format: (barOptions, params) => this.#line(barOptions, params.progress),
      fps: options.fps ?? 5,
      clearOnComplete: true,
      hideCursor: null,
      linewrap: true,
      gracefulExit: false,
      forceRedraw: true,
      barsize: 20,
      barCompleteChar: ascii ? '#' : '\u2588',
      barIncompleteChar: ascii ? '-' : '\u2591',
    });
    this.#bar = this.#bars.create(options.total ?? 0, 0);
    output.setLiveLine(this);
  }

  #line(barOptions: cliProgress.Options, fraction: number): string {
    const now = this.#now();
    const text = describe(this.#options, this.#done, this.#rate.rate(now), now - this.#started, this.#detail);
    const bar =
      this.#options.total === undefined
        ? ''
        : ` [${cliProgress.Format.BarFormat(Math.min(1, Math.max(0, fraction)), barOptions)}] ${Math.floor(fraction * 100)}%`;
    const width = Math.max(20, (this.#terminal.columns || 80) - 1);
    this.#drawn = true;
    this.#drawnAt = now;
    return this.#output.clean(`${this.#options.label}${bar} ${text}`).slice(0, width);
  }

  update(done: number, detail?: string): void {
    if (this.#stopped) return;
    this.#done = done;
    this.#detail = detail;
    const now = this.#now();
    this.#rate.record(now, done);
    this.#bar.update(done);
    // a loop that never yields to timers (in-process broker, fast disk) still sees its line
    if (now - this.#drawnAt >= this.#frameMs) this.#bars.update();
  }

  interrupt(): void {
    if (!this.#drawn) return;
    this.#drawn = false;
    this.#terminal.write('\r\x1b[2K');
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#output.setLiveLine(undefined);
    this.#bars.stop(); // clearOnComplete: back to column 1, erase to the end of the screen
    this.#drawn = false;
  }
}
