import { randomUUID } from 'node:crypto';
import type { DecodeContext, EncodeContext } from '@carrier/core';
import { ConfluentRegistryClient } from '../confluent-client.js';
import { EmbeddedRegistry, type EmbeddedRegistryOptions } from '../embedded-registry.js';
import type { SchemaRegistry } from '../registry.js';
import { type ServedRegistry, serveRegistry } from '../serve.js';

/** A registry under test and how to dispose of it. */
export interface RegistryUnderTest {
  readonly registry: SchemaRegistry;
  close(): Promise<void>;
}

/** The two implementations: in memory, and the REST client talking to an embedded one over HTTP. */
export const implementations: readonly {
  readonly name: string;
  readonly open: (options?: EmbeddedRegistryOptions) => Promise<RegistryUnderTest>;
}[] = [
  {
    name: 'EmbeddedRegistry',
    open: async (options) => ({ registry: new EmbeddedRegistry(options), close: async () => {} }),
  },
  {
    name: 'ConfluentRegistryClient over serveRegistry',
    open: async (options) => {
      const served: ServedRegistry = await serveRegistry(new EmbeddedRegistry(options));
      return { registry: new ConfluentRegistryClient({ url: served.url }), close: () => served.close() };
    },
  },
];

/** A fresh name for a test's topic or subject. */
export function fresh(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function encodeContext(topic: string): EncodeContext {
  return { topic };
}

export function decodeContext(topic: string, contentType = 'application/octet-stream'): DecodeContext {
  return { topic, contentType, metadata: {} };
}

/** The error a promise (or function) rejects with. Fails the test when it does not reject. */
export async function rejection(action: unknown): Promise<Error & { code?: string }> {
  try {
    await (typeof action === 'function' ? action() : action);
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection, got a result');
}
