import { describe, expect, it } from 'vitest';
import { spawnRelay } from './outbox-relay-child.js';
import { freshSchema, postgresUrl } from './postgres-support.js';

// The standalone relay process failing at startup: one JSON error line on stderr (no stack, no
// password) and exit code 1. The memory transport: no broker needed.
async function failedStartup(env: Record<string, string>, databaseUrl = postgresUrl()) {
  const relay = spawnRelay('memory://', databaseUrl, freshSchema(), env);
  await expect(relay.ready).rejects.toThrow(/exited \(1\)/);
  expect(relay.errors).toHaveLength(1);
  return relay.errors[0]!;
}

describe('outbox relay process startup', () => {
  it('prints one JSON error line without the password and exits 1 when PostgreSQL cannot be reached', async () => {
    const error = await failedStartup({}, 'postgres://carrier:s3cret-pw@127.0.0.1:1/postgres');
    expect(error).toMatchObject({ event: 'error', code: 'CONNECTION' });
    expect(Object.keys(error).sort()).toEqual(['code', 'event', 'message']);
    expect(JSON.stringify(error)).not.toContain('s3cret-pw');
  });

  it('prints one JSON error line and exits 1 for an OUTBOX_BATCH_SIZE that is not a number', async () => {
    const error = await failedStartup({ OUTBOX_BATCH_SIZE: 'lots' });
    expect(error).toMatchObject({ event: 'error', code: 'INVALID_ARGUMENT' });
    expect(error.message).toContain('OUTBOX_BATCH_SIZE');
  });

  it('prints one JSON error line and exits 1 when the outbox table does not exist', async () => {
    const error = await failedStartup({});
    expect(error).toMatchObject({ event: 'error', code: 'INVALID_ARGUMENT' });
    expect(error.message).toContain('does not exist');
  });
});
