import type { TransportContractOptions } from '@carrier/contract';
import { ConfluentRegistryClient } from '@carrier/schema';
import { inject } from 'vitest';
import './context.js';

/**
 * The contract suite's `schemaRegistry` option on the brokers' specs: a Confluent REST client of
 * this run's real registry server (Apicurio Registry, README.md "Schema registry"), one per case.
 */
export const harnessSchemaRegistry: NonNullable<TransportContractOptions['schemaRegistry']> = () =>
  new ConfluentRegistryClient({ url: inject('schemaRegistry') });
