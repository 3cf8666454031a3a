export { ExitCode, type ExitCodeValue, exitCodeFor } from './exit-codes.js';
export { type MainOptions, main } from './main.js';
export { Output, secretsOf } from './output.js';
