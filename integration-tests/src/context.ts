import type { BrokerUrls } from './types.js';

// What the integration project's globalSetup hands to test files:
//   import { inject } from 'vitest';
//   const { kafka, rabbitmq, nats, sqs } = inject('brokers');
//   const registryUrl = inject('schemaRegistry');
//   const postgresUrl = inject('postgres');
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
    /**
     * This run's PostgreSQL: `postgres://carrier@127.0.0.1:<port>/postgres` (superuser `carrier`,
     * trust authentication; a container's URL carries a password), or a `not-started://postgres`
     * URL when `CARRIER_TEST_ONLY` left it out. Shared by every spec file of the run: create a
     * database or schema of the test's own.
     */
    postgres: string;
    /** Path of this run's harness state file (used by src/faults.ts). */
    brokersState: string;
  }
}

export type { BrokerUrls };
