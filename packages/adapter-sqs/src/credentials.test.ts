import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTransport } from './factory.js';

// Connecting with no credentials anywhere: the SDK's provider chain fails before any request.

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('sqs credentials', () => {
  it('without any AWS credentials fails connect with AUTH_FAILED saying none were found, not that they were refused', async () => {
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'])
      vi.stubEnv(name, undefined);
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/credentials');
    vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/config');
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
    vi.stubEnv('AWS_CONTAINER_CREDENTIALS_FULL_URI', undefined);
    vi.stubEnv('AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', undefined);
    vi.stubEnv('AWS_WEB_IDENTITY_TOKEN_FILE', undefined);
    const error = await createTransport(new URL('sqs://127.0.0.1:1?region=us-east-1'), {
      onError: () => {},
      connectTimeoutMs: 10_000,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'AUTH_FAILED',
      message: expect.stringMatching(/no AWS credentials/),
    });
    expect((error as Error).message).not.toMatch(/refused|failed/);
  });
});
