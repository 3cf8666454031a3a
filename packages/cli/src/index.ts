// The public surface of @carrier/cli: run the `carrier` command in-process (`main`) and the exit
// codes it returns. The command implementations and their output are internal.
export type { SignalSource } from './context.js';
export { ExitCode, type ExitCodeValue } from './exit-codes.js';
export { type MainOptions, main } from './main.js';
export type { Streams } from './output.js';
export type { ProgressEnvironment, ProgressTerminal } from './progress.js';
