import { defineProject } from 'vitest/config';
import { sourceResolution } from '../vitest.shared.js';
import { awsEnv } from './vitest.env.js';

// The `integration` project: specs in specs/ run against real brokers that src/global-setup.ts
// provides (env URLs, testcontainers, or local processes; see README.md). Long repetitions are in
// soak/ (vitest.soak.config.ts, `npm run soak`), never in this project.
export default defineProject({
  ...sourceResolution,
  test: {
    name: 'integration',
    include: ['specs/**/*.spec.ts'],
    globalSetup: ['./src/global-setup.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    env: awsEnv,
  },
});
