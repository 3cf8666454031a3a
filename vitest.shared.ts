/**
 * Settings every vitest project shares: workspace packages resolve to their TypeScript sources
 * (export condition `carrier-source`), so tests exercise the code as edited, never a stale build.
 * The rest mirrors Node's own resolution (`node`, then `import`/`default`); Vite's `module`
 * condition is left out on purpose: it selects bundler-only builds (e.g. @aws-sdk/core's) that
 * Node cannot load.
 */
export const sourceResolution = {
  resolve: { conditions: ['carrier-source', 'node', 'development|production'] },
  ssr: { resolve: { conditions: ['carrier-source', 'node', 'development|production'] } },
};
