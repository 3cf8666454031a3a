export type { SignalSource } from './context.js';
export { ExitCode, type ExitCodeValue, exitCodeFor } from './exit-codes.js';
export { type MainOptions, main } from './main.js';
export { Output, type Streams, secretsOf } from './output.js';
