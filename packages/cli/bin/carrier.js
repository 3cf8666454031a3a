#!/usr/bin/env node
// The `carrier` command. This file is committed (not built) so that npm links it into
// node_modules/.bin when it installs the workspace, which happens before `npm run build` writes
// dist/: on a fresh clone, `npm ci && npm run build && npx carrier --help` works.
import { existsSync } from 'node:fs';

const built = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(built)) {
  process.stderr.write(
    'carrier: @carrier/cli is not built yet; run `npm run build` at the repository root\n',
  );
  process.exit(1);
}
await import(built.href);
