import type { UserConfig } from 'vitest/config';

/**
 * Settings every vitest project shares: workspace packages resolve to their TypeScript sources
 * (export condition `carrier-source`), so tests exercise the code as edited, never a stale build.
 */
export const sourceResolution: Pick<UserConfig, 'resolve' | 'ssr'> = {
  resolve: { conditions: ['carrier-source'] },
  ssr: { resolve: { conditions: ['carrier-source'] } },
};
