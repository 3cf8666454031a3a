import { isCarrierError } from '@carrier/core';

/**
 * Exit codes of the `carrier` command. Scripts may rely on them: a code never changes meaning.
 *
 * | code | meaning |
 * |---|---|
 * | 0 | success (also: a bridge or tail stopped cleanly by SIGINT/SIGTERM) |
 * | 1 | unexpected failure (a bug, or an error without a better code) |
 * | 2 | usage: unknown command or option, missing or invalid argument, invalid topic/group name or header |
 * | 3 | connection: the broker cannot be reached, refused the credentials (`AUTH_FAILED`), or the URL's adapter package is not installed |
 * | 4 | broker: the broker refused or did not confirm an operation (publish, settle, topology, capability) |
 * | 5 | verification failed: messages missing on the target, or copies that differ |
 * | 6 | timed out: the expected messages did not arrive in time (doctor round trip, tail --count, verify --max-wait) |
 * | 7 | not found: `dlq show` found no dead letter with that id |
 * | 130 | aborted by a second SIGINT/SIGTERM (in-flight work was not finished; nothing is lost) |
 */
export const ExitCode = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  CONNECTION: 3,
  BROKER: 4,
  VERIFY_FAILED: 5,
  TIMEOUT: 6,
  NOT_FOUND: 7,
  ABORTED: 130,
} as const;

/** One of the {@link ExitCode} values. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error of the command line itself, with the exit code it ends the process with. */
export class CliError extends Error {
  readonly exitCode: ExitCodeValue;
  constructor(exitCode: ExitCodeValue, message: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** The exit code for an error thrown by a command. */
export function exitCodeFor(error: unknown): ExitCodeValue {
  if (error instanceof CliError) return error.exitCode;
  if (isCarrierError(error)) {
    switch (error.code) {
      case 'INVALID_NAME':
      case 'INVALID_ARGUMENT':
      case 'MESSAGE_TOO_LARGE':
        return ExitCode.USAGE;
      case 'CONNECTION':
      case 'AUTH_FAILED':
        return ExitCode.CONNECTION;
      case 'UNSUPPORTED':
        // a missing adapter package or an unknown scheme: nothing was reached
        return /needs the package|no transport for scheme/.test(error.message)
          ? ExitCode.CONNECTION
          : ExitCode.BROKER;
      case 'TIMEOUT':
        return ExitCode.TIMEOUT;
      default:
        return ExitCode.BROKER;
    }
  }
  return ExitCode.FAILURE;
}
