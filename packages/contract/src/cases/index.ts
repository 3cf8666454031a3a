import type { ContractCase } from '../case.js';
import {
  closedWhileStartingWithMessagesWaiting,
  handlerSignalOnClose,
  publishAbortedBefore,
  publishAbortedInFlight,
  subscribeAbortedBefore,
  subscribeAbortedLater,
} from './cancellation.js';
import { customCodecBytes, typedTopicDeadLettersInvalidBody } from './codecs.js';
import { delayedBatch, delayedPublish, publishDelayRefusals } from './delay.js';
import { crashCountsOneAttempt, crashRedelivered, idleClose, poisonMessage } from './failure.js';
import {
  concurrencyLimit,
  concurrencyOneHolds,
  perKeyOrder,
  perKeyOrderAcrossMembers,
  prefetchBound,
} from './flow.js';
import { orderedConflict, startFromConflict, startFromEarliest, startFromNow } from './group-start.js';
import {
  buffersForDeclaredGroup,
  competingConsumers,
  concurrentDeclare,
  fansOut,
  manyMembers,
  manyTopics,
  publishWithoutGroup,
  topicIsolation,
} from './groups.js';
import { memberChurn, releaseKeepsAttemptOrdered, releaseKeepsAttemptUnordered } from './handover.js';
import { lagCounts, lagGauge, lagRefusals, lagUnsupported } from './lag.js';
import {
  closeDrains,
  closedRejects,
  closeRightAfterSubscribe,
  closeTwice,
  closeWithPublishesInFlight,
  subscribeCloseRounds,
  tenClosesAtOnce,
  tenConnectionsCloseAtOnce,
} from './lifecycle.js';
import { invalidNames, sizeLimit, unsupported } from './limits.js';
import {
  declaresCapabilities,
  forwardsRaw,
  headerControlCharacters,
  headerRefusals,
  publishBatch,
  roundTrip,
} from './messages.js';
import { nativeForeignToken } from './native.js';
import { brokerRestart } from './reconnect.js';
import {
  concurrentRequests,
  expiredRequestSkipped,
  requestHandlerFails,
  requestRoundTrip,
  requestTimeout,
  requestUnsupported,
} from './request-reply.js';
import {
  backoffLowerBound,
  deadLettersAfterMaxAttempts,
  nonRetryable,
  redeliversAfterError,
  redriveToFailingGroup,
  retryThenNewMember,
  undecodable,
} from './retries.js';
import { schemaEvolutionCases } from './schemas.js';
import {
  redriveLinksToOriginalTrace,
  requestReplyCorrelates,
  traceThroughRetriesAndDeadLetter,
} from './telemetry.js';
import { volume } from './volume.js';
import {
  headerKeysRoundTrip,
  headerLimits,
  metadataRoundTrip,
  metadataThroughDeadLetters,
  wireRefusals,
} from './wire.js';

export * from './cancellation.js';
export * from './codecs.js';
export * from './delay.js';
export * from './failure.js';
export * from './flow.js';
export * from './group-start.js';
export * from './groups.js';
export * from './handover.js';
export * from './lag.js';
export * from './lifecycle.js';
export * from './limits.js';
export * from './messages.js';
export * from './native.js';
export * from './reconnect.js';
export * from './request-reply.js';
export * from './retries.js';
export * from './schemas.js';
export * from './telemetry.js';
export * from './volume.js';
export * from './wire.js';

/** Every case of the suite, in the order it runs (grouped by theme). */
export const contractCases: readonly ContractCase[] = [
  declaresCapabilities,
  roundTrip,
  forwardsRaw,
  publishBatch,
  headerControlCharacters,
  headerRefusals,
  headerKeysRoundTrip,
  metadataRoundTrip,
  metadataThroughDeadLetters,
  wireRefusals,
  headerLimits,
  customCodecBytes,
  typedTopicDeadLettersInvalidBody,
  ...schemaEvolutionCases,
  buffersForDeclaredGroup,
  fansOut,
  competingConsumers,
  topicIsolation,
  publishWithoutGroup,
  startFromNow,
  startFromEarliest,
  startFromConflict,
  orderedConflict,
  concurrentDeclare,
  manyTopics,
  manyMembers,
  redeliversAfterError,
  backoffLowerBound,
  deadLettersAfterMaxAttempts,
  nonRetryable,
  undecodable,
  redriveToFailingGroup,
  retryThenNewMember,
  perKeyOrder,
  perKeyOrderAcrossMembers,
  concurrencyLimit,
  concurrencyOneHolds,
  prefetchBound,
  closeDrains,
  closedRejects,
  closeTwice,
  tenClosesAtOnce,
  tenConnectionsCloseAtOnce,
  closeRightAfterSubscribe,
  subscribeCloseRounds,
  closeWithPublishesInFlight,
  publishAbortedBefore,
  publishAbortedInFlight,
  subscribeAbortedBefore,
  closedWhileStartingWithMessagesWaiting,
  subscribeAbortedLater,
  handlerSignalOnClose,
  nativeForeignToken,
  requestRoundTrip,
  concurrentRequests,
  requestTimeout,
  requestHandlerFails,
  expiredRequestSkipped,
  requestUnsupported,
  crashRedelivered,
  crashCountsOneAttempt,
  poisonMessage,
  idleClose,
  releaseKeepsAttemptUnordered,
  releaseKeepsAttemptOrdered,
  memberChurn,
  brokerRestart,
  invalidNames,
  sizeLimit,
  unsupported,
  publishDelayRefusals,
  delayedPublish,
  delayedBatch,
  traceThroughRetriesAndDeadLetter,
  redriveLinksToOriginalTrace,
  requestReplyCorrelates,
  lagCounts,
  lagGauge,
  lagRefusals,
  lagUnsupported,
  volume,
];
