import type { BrokerUrls } from './types.js';

// What the integration project's globalSetup hands to test files:
//   import { inject } from 'vitest';
//   const { kafka, rabbitmq, nats, sqs } = inject('brokers');
declare module 'vitest' {
  export interface ProvidedContext {
    /** Carrier URLs of the four brokers of this run. */
    brokers: BrokerUrls;
    /** Path of this run's harness state file (used by src/faults.ts). */
    brokersState: string;
  }
}

export type { BrokerUrls };
