import { defineProject } from 'vitest/config';
import { sourceResolution } from '../../vitest.shared.js';

export default defineProject({
  ...sourceResolution,
  test: { name: 'outbox', include: ['src/**/*.test.ts'], testTimeout: 30_000 },
});
