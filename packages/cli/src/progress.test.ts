import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import { connect, NonRetryableError } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import { main } from './main.js';
import { Output } from './output.js';
import { createProgress, formatDuration, progressMode, RateMeter } from './progress.js';

const fresh = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A terminal-like stderr that records what is written. */
function fakeTerminal(isTTY: boolean, columns = 100) {
  const chunks: string[] = [];
  return {
    chunks,
    text: () => chunks.join(''),
    stream: { isTTY, columns, write: (t: string) => chunks.push(t) },
  };
}

const CLEAR_LINE = '\r\x1b[2K';

/** What a terminal shows of `text`, line by line (carriage return, cursor to column 1, erase). */
function screen(text: string): string[] {
  const lines: string[] = [''];
  let column = 0;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences
  for (const token of text.split(/(\r|\n|\x1b\[[0-9;?]*[A-Za-z])/)) {
    const last = lines.length - 1;
    const line = lines[last]!;
    if (token === '\n') {
      lines.push('');
      column = 0;
    } else if (token === '\r' || token === '\x1b[1G') column = 0;
    else if (token === '\x1b[2K') lines[last] = '';
    else if (token === '\x1b[0K' || token === '\x1b[0J') lines[last] = line.slice(0, column);
    else if (token.startsWith('\x1b')) throw new Error(`unexpected escape sequence ${JSON.stringify(token)}`);
    else if (token !== '') {
      lines[last] = line.slice(0, column).padEnd(column) + token + line.slice(column + token.length);
      column += token.length;
    }
  }
  return lines;
}

describe('progressMode', () => {
  it.each([
    [false, {}, true, 'plain'],
    [true, {}, true, 'live'],
    [true, { CI: 'true' }, true, 'plain'],
    [true, { CI: '1' }, true, 'plain'],
    [true, { CI: 'false' }, true, 'live'],
    [true, { CI: '' }, true, 'live'],
    [true, { TERM: 'dumb' }, true, 'plain'],
    [true, { NO_COLOR: '1' }, true, 'live'],
    [true, {}, false, 'off'],
    [false, {}, false, 'off'],
  ] as const)('isTTY %s, env %j, enabled %s: %s', (isTTY, env, enabled, mode) => {
    expect(progressMode({ write: () => {}, isTTY }, env, enabled)).toBe(mode);
  });
});

describe('RateMeter and formatDuration', () => {
  it('rate over the window, falling while nothing moves', () => {
    const meter = new RateMeter(0, 10_000);
    expect(meter.rate(0)).toBe(0);
    meter.record(1_000, 100);
    expect(meter.rate(1_000)).toBe(100);
    meter.record(2_000, 300);
    expect(meter.rate(2_000)).toBe(150);
    meter.record(20_000, 300);
    meter.record(21_000, 400);
    // window 11 s .. 21 s: base is the sample at 2 s (the newest before the window)
    expect(meter.rate(21_000)).toBeCloseTo(100 / 19, 5);
    expect(meter.rate(41_000)).toBeCloseTo(100 / 39, 5);
  });
  it('durations', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(59.4)).toBe('59s');
    expect(formatDuration(65)).toBe('1m05s');
    expect(formatDuration(7380)).toBe('2h03m');
  });
});

describe('live progress on a terminal', () => {
  it('draws one line in place with count, bar, rate and ETA; other output clears it first; stop clears it', async () => {
    const terminal = fakeTerminal(true, 100);
    const io = new Output({ stdout: terminal.stream, stderr: terminal.stream }, ['s3cret']);
    const progress = createProgress(
      io,
      { terminal: terminal.stream, env: { LANG: 'en_US.UTF-8' } },
      { label: 'publish orders', unit: 'messages', total: 10, mode: 'live', fps: 50 },
    );
    expect(progress.mode).toBe('live');
    progress.update(4, 'token s3cret');
    await waitFor(() => terminal.text().includes('4/10 messages'), 5_000, 'the live line');
    const drawn = screen(terminal.text());
    expect(drawn).toHaveLength(1); // no newline: redrawn in place
    expect(drawn[0]).toMatch(
      /^publish orders \[█{8}░{12}\] 40% 4\/10 messages \| [\d.]+\/s \| ETA \S+ \| token \*\*\*$/,
    );
    expect(terminal.text()).not.toContain('s3cret');

    io.err('a log line');
    expect(terminal.text().endsWith(`${CLEAR_LINE}a log line\n`)).toBe(true);
    const before = terminal.chunks.length;
    progress.update(10);
    await waitFor(
      () => terminal.chunks.slice(before).join('').includes('10/10 messages'),
      5_000,
      'the line drawn again below the log line',
    );
    expect(screen(terminal.text())).toEqual([
      'a log line',
      expect.stringMatching(/^publish orders \[█{20}\] 100% 10\/10 messages \| .* \| ETA 0s$/),
    ]);

    progress.stop();
    expect(screen(terminal.text())).toEqual(['a log line', '']); // the live line is gone
    const after = terminal.chunks.length;
    progress.update(11);
    progress.stop();
    io.err('summary');
    expect(terminal.chunks.slice(after)).toEqual(['summary\n']); // nothing drawn after stop
  });

  it('draws from update() itself when the caller never yields to timers, at most once a frame', () => {
    const terminal = fakeTerminal(true);
    const io = new Output({ stdout: terminal.stream, stderr: terminal.stream }, []);
    let now = 0;
    const progress = createProgress(
      io,
      { terminal: terminal.stream, env: {} },
      { label: 'publish t', unit: 'messages', total: 100, mode: 'live', fps: 5, now: () => now },
    );
    progress.update(3);
    expect(screen(terminal.text())).toEqual([expect.stringMatching(/^publish t \[.*\] 3% 3\/100 messages /)]);
    now = 100; // within the frame (200 ms at 5 fps): not drawn again
    progress.update(4);
    expect(terminal.text()).not.toContain('4/100');
    now = 200;
    progress.update(5);
    expect(screen(terminal.text())).toEqual([expect.stringMatching(/ 5\/100 messages /)]);
    progress.stop();
  });

  it('results on stdout clear the line only when stdout is the terminal too', () => {
    const terminal = fakeTerminal(true);
    let piped = '';
    const io = new Output({ stdout: { write: (t: string) => (piped += t) }, stderr: terminal.stream }, []);
    const progress = createProgress(
      io,
      { terminal: terminal.stream, env: {} },
      { label: 'publish t', unit: 'messages', total: 100, mode: 'live' },
    );
    progress.update(1);
    const drawn = terminal.text();
    io.out('an id');
    expect(piped).toBe('an id\n');
    expect(terminal.text()).toBe(drawn); // the live line stays
    progress.stop();

    const shared = fakeTerminal(true);
    const io2 = new Output({ stdout: shared.stream, stderr: shared.stream }, []);
    const progress2 = createProgress(
      io2,
      { terminal: shared.stream, env: {} },
      { label: 'publish t', unit: 'messages', total: 100, mode: 'live' },
    );
    progress2.update(1);
    io2.out('an id');
    expect(shared.text().endsWith(`${CLEAR_LINE}an id\n`)).toBe(true);
    expect(screen(shared.text())).toEqual(['an id', '']);
    progress2.stop();
  });

  it('fits the terminal width; ASCII bar under NO_COLOR or a locale that is not UTF-8', async () => {
    const terminal = fakeTerminal(true, 50);
    const io = new Output({ stdout: terminal.stream, stderr: terminal.stream }, []);
    const progress = createProgress(
      io,
      { terminal: terminal.stream, env: { NO_COLOR: '1', LANG: 'en_US.UTF-8' } },
      { label: 'publish orders', unit: 'messages', total: 4, mode: 'live', fps: 50 },
    );
    progress.update(2, 'a long detail that does not fit in fifty columns');
    await waitFor(() => terminal.text().includes('50%'), 5_000, 'the live line');
    const [line] = screen(terminal.text());
    expect(line).toMatch(/^publish orders \[#{10}-{10}\] 50% /);
    expect(line).toHaveLength(49);
    progress.stop();
    const latin1 = fakeTerminal(true);
    const io2 = new Output({ stdout: latin1.stream, stderr: latin1.stream }, []);
    const other = createProgress(
      io2,
      { terminal: latin1.stream, env: { LC_ALL: 'C', LANG: 'en_US.UTF-8' } },
      { label: 'p', unit: 'messages', total: 4, mode: 'live' },
    );
    other.update(4);
    expect(screen(latin1.text())[0]).toMatch(/^p \[#{20}\] 100% /);
    other.stop();
  });

  it('without a total: count, rate and elapsed time', async () => {
    const terminal = fakeTerminal(true);
    const io = new Output({ stdout: terminal.stream, stderr: terminal.stream }, []);
    const progress = createProgress(
      io,
      { terminal: terminal.stream, env: {} },
      { label: 'bridge', unit: 'moved', mode: 'live', fps: 50 },
    );
    progress.update(7, 'running | lag 0.2s');
    await waitFor(() => terminal.text().includes('7 moved'), 5_000, 'the live line');
    expect(screen(terminal.text())[0]).toMatch(
      /^bridge 7 moved \| [\d.]+\/s \| elapsed \d+s \| running \| lag 0\.2s$/,
    );
    progress.stop();
  });
});

describe('plain progress', () => {
  it('prints a line at most every interval, none before the first interval', () => {
    const terminal = fakeTerminal(false);
    const io = new Output({ stdout: terminal.stream, stderr: terminal.stream }, []);
    let now = 0;
    const progress = createProgress(
      io,
      { terminal: terminal.stream, env: {} },
      {
        label: 'publish orders',
        unit: 'messages',
        total: 1000,
        mode: 'plain',
        plainIntervalMs: 1_000,
        now: () => now,
      },
    );
    expect(progress.mode).toBe('plain');
    now = 500;
    progress.update(100);
    expect(terminal.text()).toBe('');
    now = 1_000;
    progress.update(200);
    now = 1_500;
    progress.update(300);
    now = 2_000;
    progress.update(400, 'detail');
    progress.stop();
    expect(terminal.text()).toBe(
      'publish orders: 200/1000 messages | 200/s | ETA 4s\n' +
        'publish orders: 400/1000 messages | 200/s | ETA 3s | detail\n',
    );
  });

  it('off prints nothing', () => {
    const terminal = fakeTerminal(true);
    const io = new Output({ stdout: terminal.stream, stderr: terminal.stream }, []);
    const progress = createProgress(
      io,
      { terminal: terminal.stream, env: {} },
      { label: 'x', unit: 'y', mode: 'off' },
    );
    progress.update(5);
    progress.stop();
    expect(terminal.text()).toBe('');
  });
});

/** Start `carrier` with a stderr that claims to be a terminal; stdout is a pipe. */
function startOnTerminal(args: string[], stdin = '', env: Record<string, string> = {}) {
  let out = '';
  const terminal = fakeTerminal(true);
  const input = Object.assign(Readable.from([Buffer.from(stdin)]), { isTTY: false });
  const signals = new EventEmitter();
  const code = main(args, {
    stdout: { write: (t: string) => (out += t) },
    stderr: terminal.stream,
    stdin: input,
    signals,
    env,
  });
  return { code, signals, stdout: () => out, stderr: () => terminal.text() };
}

async function runOnTerminal(args: string[], stdin = '', env: Record<string, string> = {}) {
  const r = startOnTerminal(args, stdin, env);
  const code = await r.code;
  return { code, stdout: r.stdout(), stderr: r.stderr() };
}

describe('commands with progress on a terminal', () => {
  it('publish --lines: stdout has only the ids; stderr ends with the summary, the live line cleared', async () => {
    const broker = `memory://${fresh('b')}`;
    const topic = fresh('t');
    const lines = Array.from({ length: 2_000 }, (_, i) => `{"n":${i}}`).join('\n');
    const r = await runOnTerminal(['publish', broker, topic, '--lines', '--json', '--batch', '50'], lines);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^([0-9a-f-]{36}\n){2000}$/);
    expect(screen(r.stderr).filter(Boolean)).toEqual([`published 2000 messages to ${topic} on ${broker}`]);
  });

  it('dlq redrive: the count on stdout, summary on stderr; --no-progress too', async () => {
    const broker = `memory://${fresh('b')}`;
    const topic = fresh('t');
    const carrier = await connect(broker);
    const sub = await carrier.subscribe(topic, { group: 'billing' }, (m) => {
      throw new NonRetryableError(`cannot bill ${m.id}`);
    });
    await carrier.publishBatch(
      topic,
      Array.from({ length: 5 }, (_, n) => ({ body: { n } })),
    );
    const letters: string[] = [];
    const reader = await carrier.deadLetters(topic, 'billing').subscribe(
      (l) => {
        letters.push(l.message.id);
        throw new Error('keep');
      },
      { concurrency: 10 },
    );
    await waitFor(() => new Set(letters).size === 5, 5_000, 'five dead letters');
    await reader.close();
    await sub.close();
    const first = await runOnTerminal(['dlq', 'redrive', broker, topic, 'billing', '--max', '2']);
    expect(first).toMatchObject({ code: 0, stdout: '2\n' });
    expect(screen(first.stderr).filter(Boolean)).toEqual([
      `redrove 2 dead letters of ${topic} back to group billing`,
    ]);
    const rest = await runOnTerminal(['dlq', 'redrive', broker, topic, 'billing', '--no-progress']);
    expect(rest).toMatchObject({ code: 0, stdout: '3\n' });
    expect(rest.stderr).toBe(`redrove 3 dead letters of ${topic} back to group billing\n`);
    await carrier.close();
  });

  it('bridge: a live line instead of periodic lines; ready, stopping and the final line stay', async () => {
    const from = `memory://${fresh('src')}`;
    const to = `memory://${fresh('dst')}`;
    const topic = fresh('t');
    const source = await connect(from);
    const target = await connect(to);
    await target.declare(topic, ['app']);
    const b = startOnTerminal([
      'bridge',
      from,
      to,
      '--topic',
      topic,
      '--group',
      'bridge',
      '--progress',
      '20ms',
    ]);
    await waitFor(() => b.stderr().includes('bridge: ready'), 5_000, 'the bridge to start');
    await source.publishBatch(
      topic,
      Array.from({ length: 50 }, (_, i) => ({ body: { i } })),
    );
    await waitFor(
      () =>
        /^bridge 50 moved \| [\d.]+\/s \| elapsed \d+s \| running \| lag \d+\.\ds \| in flight 0$/.test(
          screen(b.stderr()).at(-1) ?? '',
        ),
      5_000,
      'the live line with 50 moved',
    ).catch((error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(screen(b.stderr()))}`);
    });
    b.signals.emit('SIGTERM');
    expect(await b.code).toBe(0);
    const lines = screen(b.stderr());
    expect(lines).toEqual([
      expect.stringMatching(/^bridge: ready: /),
      expect.stringMatching(/^bridge: SIGTERM: stopping, finishing 0 in flight$/),
      expect.stringMatching(/^bridge: stopped \| moved 50 \| /),
      '',
    ]);
    expect(b.stderr()).not.toContain('bridge: running |'); // no periodic plain lines on a terminal
    expect(b.stdout()).toBe('');
    await source.close();
    await target.close();
  });

  it('bridge with CI set: the plain lines, as without a terminal', async () => {
    const from = `memory://${fresh('src')}`;
    const to = `memory://${fresh('dst')}`;
    const topic = fresh('t');
    const source = await connect(from);
    const b = startOnTerminal(
      ['bridge', from, to, '--topic', topic, '--group', 'bridge', '--progress', '20ms'],
      '',
      {
        CI: 'true',
      },
    );
    await waitFor(() => b.stderr().includes('bridge: ready'), 5_000, 'the bridge to start');
    await source.publish(topic, 'one');
    await waitFor(() => b.stderr().includes('bridge: running | moved 1 |'), 5_000, 'a plain progress line');
    b.signals.emit('SIGTERM');
    expect(await b.code).toBe(0);
    expect(b.stderr()).not.toContain('\x1b[');
    await source.close();
  });
});
