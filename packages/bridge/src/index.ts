// The public surface of @carrier/bridge: `bridge()` to move messages between brokers, `verify()`
// to check the copy, their option and report types, and the topic-route helpers the CLI uses.
// Internals (the forwarder, the portability checks, the pure comparison) are imported by file.
export { type Bridge, type BridgeDeadLetterEvent, type BridgeOptions, bridge } from './bridge.js';
export type { DuplicateId, RouteVerifyReport, SeenEntry } from './compare.js';
export type { TransportOverrides } from './connections.js';
export type { BridgeProgress, RouteProgress } from './progress.js';
export { describeRoute, parseRoutes, type TopicRoute } from './routes.js';
export { type VerifyCarryOver, type VerifyOptions, type VerifyReport, verify } from './verify.js';
