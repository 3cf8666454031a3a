import type { TransportContractOptions } from '@carrier/contract';
import { ConfluentRegistryClient, EmbeddedRegistry } from '@carrier/schema';
import { inject } from 'vitest';
import './context.js';

/**
 * The contract suite's `schemaRegistry` option on the brokers' specs: a Confluent REST client of
 * this run's real registry server (Apicurio Registry, README.md "Schema registry"), one per case.
 * A run whose `CARRIER_TEST_ONLY` leaves the registry out (CI's testcontainers step tests brokers,
 * not the registry) gets an `EmbeddedRegistry` per case instead, as the memory suite does.
 */
export const harnessSchemaRegistry: NonNullable<TransportContractOptions['schemaRegistry']> = () => {
  const url = inject('schemaRegistry');
  return url.startsWith('not-started:') ? new EmbeddedRegistry() : new ConfluentRegistryClient({ url });
};
