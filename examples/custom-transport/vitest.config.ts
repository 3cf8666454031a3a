import { defineProject } from 'vitest/config';

// An outside author's setup: the suite comes from the @carrier/contract package as published
// (its `dist/`, built by `npm run build` at the root; no `carrier-source` condition here), and
// the transport is this package's own code.
export default defineProject({
  test: { name: 'example-custom-transport', include: ['src/**/*.test.ts'], testTimeout: 30_000 },
});
