import type { BrokerUrls } from './types.js';

// What the integration project's globalSetup hands to test files:
//   import { inject } from 'vitest';
//   const { kafka, rabbitmq, nats, sqs } = inject('brokers');
//   const registryUrl = inject('schemaRegistry');
declare module 'vitest' {
  export interface ProvidedContext {
    /** Carrier URLs of the four brokers of this run. */
    brokers: BrokerUrls;
    /**
     * The Confluent-compatible base URL of this run's schema registry
     * (`http://127.0.0.1:<port>/apis/ccompat/v7`, Apicurio Registry in memory), or a
     * `not-started://schema-registry` URL when `CARRIER_TEST_ONLY` left it out.
     */
    schemaRegistry: string;
    /** Path of this run's harness state file (used by src/faults.ts). */
    brokersState: string;
  }
}

export type { BrokerUrls };
