#!/usr/bin/env node
import { main } from './main.js';

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  signals: process,
});
// Flush what is buffered for a pipe, then exit: a driver may keep timers or sockets alive.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
