import * as kit from '@carrier/core/kit';
import { describe, expect, it } from 'vitest';

describe('@carrier/core/kit', () => {
  it('resolves as a subpath of @carrier/core and exports the adapter helpers', () => {
    expect(Object.keys(kit).sort()).toEqual([
      'Backoff',
      'DELIVER_AT_HEADER',
      'DeadlineError',
      'METADATA_HEADER_PREFIX',
      'OncePerKey',
      'TRACEPARENT_HEADER',
      'TRACESTATE_HEADER',
      'URL_FLAG_WORDS',
      'asError',
      'boundReason',
      'completeDeadLetterInfo',
      'describeError',
      'exponentialCeiling',
      'exponentialDelay',
      'formatDeliverAt',
      'isClientCertificateRefusal',
      'isMetadataHeader',
      'isServerCertificateUntrusted',
      'metadataFromHeaders',
      'metadataHeaders',
      'nothingPublished',
      'parseCarrierUrl',
      'parseDeliverAt',
      'publishFailed',
      'refuseRepeatedOptions',
      'retrying',
      'sleep',
      'transportFactoryFor',
      'urlChoice',
      'urlFlag',
      'withDeadline',
    ]);
  });
});
