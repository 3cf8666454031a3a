import { defaultClientConditions, defaultServerConditions } from 'vite';

/**
 * Settings every vitest project shares: workspace packages resolve to their TypeScript sources
 * (export condition `carrier-source`, added to Vite's defaults), so tests exercise the code as
 * edited, never a stale build.
 */
export const sourceResolution = {
  resolve: { conditions: ['carrier-source', ...defaultClientConditions] },
  ssr: { resolve: { conditions: ['carrier-source', ...defaultServerConditions] } },
};
