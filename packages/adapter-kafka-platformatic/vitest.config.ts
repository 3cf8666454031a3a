import { defineProject } from 'vitest/config';
import { sourceResolution } from '../../vitest.shared.js';

export default defineProject({
  ...sourceResolution,
  test: { name: 'adapter-kafka-platformatic', include: ['src/**/*.test.ts'] },
});
