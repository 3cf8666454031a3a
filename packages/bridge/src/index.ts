export { type Bridge, type BridgeDeadLetterEvent, type BridgeOptions, bridge } from './bridge.js';
export type { TransportOverrides } from './connections.js';
export { type BatchPublisher, Forwarder } from './forwarder.js';
export { isPermanentPublishError, MAX_ID_LENGTH, republishProblem } from './portable.js';
export type { BridgeProgress, RouteProgress } from './progress.js';
export { describeRoute, parseRoutes, type TopicRoute } from './routes.js';
export {
  carryOverOf,
  compareSides,
  type DuplicateId,
  messageDigest,
  type RouteVerifyReport,
  type SeenEntry,
  TARGET_ONLY_CARRY_MS,
  type VerifyCarryOver,
  type VerifyOptions,
  type VerifyReport,
  verify,
} from './verify.js';
