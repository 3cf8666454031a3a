import * as kit from '@carrier/core/kit';
import { describe, expect, it } from 'vitest';

describe('@carrier/core/kit', () => {
  it('resolves as a subpath of @carrier/core and exports the adapter helpers', () => {
    expect(Object.keys(kit).sort()).toEqual([
      'Backoff',
      'DeadlineError',
      'OncePerKey',
      'asError',
      'boundReason',
      'completeDeadLetterInfo',
      'describeError',
      'exponentialCeiling',
      'exponentialDelay',
      'nothingPublished',
      'parseCarrierUrl',
      'publishFailed',
      'retrying',
      'sleep',
      'transportFactoryFor',
      'withDeadline',
    ]);
  });
});
