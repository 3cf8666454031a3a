import type { Context, SignalSource } from './context.js';
import { CliError, ExitCode, exitCodeFor } from './exit-codes.js';
import { Output, type Streams, secretsOf } from './output.js';
import { CommanderError, commanderExitCode, createProgram } from './program.js';

/** What {@link main} runs with (the real process, or a test's fakes). */
export interface MainOptions extends Streams {
  /** Standard input: message bodies for `publish` (`process.stdin` in the real command). */
  readonly stdin: Context['stdin'];
  /** SIGINT/SIGTERM source for `bridge` and `tail` (`process` in the real command). */
  readonly signals: SignalSource;
  /**
   * Environment read for progress (`CI`, `TERM`, `NO_COLOR`, `LANG`); default `process.env`.
   * Progress is a live line only when `stderr.isTTY` (see `progressMode`).
   */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
}

/**
 * Run `carrier` with `args` (without `node` and the script) and resolve with the exit code (one of
 * {@link ExitCode}: 0 ok, 2 usage, 3 connection, 4 broker refused, 5 verify failed, 6 timed out,
 * 7 not found, 130 aborted, 1 anything else). Never throws: every error is printed (credentials
 * scrubbed) and mapped to an exit code.
 */
export async function main(args: readonly string[], options: MainOptions): Promise<number> {
  const io = new Output(options, secretsOf(args));
  const ctx: Context = {
    io,
    stdin: options.stdin,
    signals: options.signals,
    progress: { terminal: options.stderr, env: options.env ?? process.env },
  };
  let code: number = ExitCode.OK;
  const program = createProgram(ctx, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...args], { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return commanderExitCode(error);
    io.error(error);
    if (error instanceof CliError) return error.exitCode;
    return exitCodeFor(error);
  }
}
