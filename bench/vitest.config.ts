import { defineProject } from 'vitest/config';
import { sourceResolution } from '../vitest.shared.js';

// Unit tests of the bench's pure parts (statistics, argument parsing, output format).
// No timing is asserted anywhere: figures belong in the bench's output, not in tests.
export default defineProject({
  ...sourceResolution,
  test: { name: 'bench', include: ['src/**/*.test.ts'] },
});
