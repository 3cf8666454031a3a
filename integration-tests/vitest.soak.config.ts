import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { sourceResolution } from '../vitest.shared.js';
import { awsEnv } from './vitest.env.js';

// `npm run soak` (from the repo root): long repetitions and full-size runs that CI does not run.
// Same brokers and global setup as the `integration` project; specs in soak/**/*.soak.spec.ts.
// Filters work as usual: `npm run soak -- network-faults`, `npm run soak -- -t kafka`.
// Spec files run one at a time: a soak measures the code, not a machine busy with other soaks.
export default defineConfig({
  ...sourceResolution,
  root: path.dirname(fileURLToPath(import.meta.url)),
  test: {
    name: 'soak',
    include: ['soak/**/*.soak.spec.ts'],
    globalSetup: ['./src/global-setup.ts'],
    environment: 'node',
    fileParallelism: false,
    testTimeout: 3_600_000,
    hookTimeout: 600_000,
    env: awsEnv,
  },
});
