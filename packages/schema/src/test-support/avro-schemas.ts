import type { SchemaDefinition } from '../registry.js';

/** An Avro record `Order` with the given fields, as a registry definition. */
export function avroOrder(fields: readonly Record<string, unknown>[], spacing?: number): SchemaDefinition {
  return {
    schemaType: 'AVRO',
    schema: JSON.stringify({ type: 'record', name: 'Order', fields }, null, spacing),
  };
}

export const ID = { name: 'id', type: 'string' };
export const QTY = { name: 'qty', type: 'int' };
export const QTY_DEFAULT = { name: 'qty', type: 'int', default: 0 };
export const NOTE_DEFAULT = { name: 'note', type: 'string', default: '' };
export const NOTE = { name: 'note', type: 'string' };
