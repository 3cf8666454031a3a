import { defineConfig } from 'vitest/config';

// One `vitest run` runs every project: unit tests of each package, the contract suite on
// memory, and the integration specs against real brokers (integration-tests/ starts them).
// Each project spreads `sourceResolution` from vitest.shared.ts.
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', '{integration-tests,bench,examples/*}/vitest.config.ts'],
  },
});
