import { CarrierError, isCarrierError } from '@carrier/core';
import type { ResolvedSchema } from './formats/format.js';
import type { SchemaDefinition, SchemaReference, SchemaRegistry } from './registry.js';
import { type SubjectStrategy, subjectFor } from './subject.js';

/** One reason a body does not match its schema (core's `ValidationIssue`). */
export type ValidationIssue = CarrierError['issues'][number];

/**
 * What the three schema codecs share: the subject of a topic, their own schema's id per subject
 * (registered or looked up once), writer schemas by id (fetched and prepared once), and how
 * registry failures become codec errors.
 */

/** Options every schema codec takes. */
export interface SchemaCodecOptions {
  /** Where schemas are registered and looked up. */
  readonly registry: SchemaRegistry;
  /** Subject of a topic's schema; default `<topic>-value` (Confluent's `TopicNameStrategy`). */
  readonly subject?: SubjectStrategy | undefined;
  /**
   * Register the codec's schema under the subject on first use (`true`, the default, as
   * Confluent's serializers do), or only look it up (`false`: encode fails with `ENCODE_FAILED`
   * until someone registered it).
   */
  readonly autoRegister?: boolean | undefined;
}

/**
 * The codec's own schema id under each subject: registered (or looked up) on first use, then
 * cached; a failed attempt is not cached.
 */
export class OwnSchemaIds {
  readonly #ids = new Map<string, Promise<number>>();

  constructor(
    private readonly options: SchemaCodecOptions,
    private readonly definition: (signal: AbortSignal | undefined) => Promise<SchemaDefinition>,
  ) {}

  subject(topic: string): string {
    return subjectFor(this.options.subject, topic);
  }

  /** The id under the topic's subject. Throws encode errors (see {@link encodeError}). */
  idFor(topic: string, signal: AbortSignal | undefined): Promise<number> {
    const subject = this.subject(topic);
    let pending = this.#ids.get(subject);
    if (!pending) {
      pending = this.#resolve(subject, signal);
      this.#ids.set(subject, pending);
      pending.catch(() => this.#ids.delete(subject));
    }
    return pending;
  }

  async #resolve(subject: string, signal: AbortSignal | undefined): Promise<number> {
    try {
      const definition = await this.definition(signal);
      return await idUnder(this.options, subject, definition, signal);
    } catch (error) {
      throw encodeError(error, `schema for subject "${subject}"`);
    }
  }
}

/** Register (or, without `autoRegister`, look up) `definition` under `subject`. */
export async function idUnder(
  options: SchemaCodecOptions,
  subject: string,
  definition: SchemaDefinition,
  signal: AbortSignal | undefined,
): Promise<number> {
  if (options.autoRegister ?? true) return options.registry.register(subject, definition, { signal });
  const found = await options.registry.lookup(subject, definition, { signal });
  if (!found) {
    throw new CarrierError(
      'ENCODE_FAILED',
      `the schema is not registered under subject "${subject}" (autoRegister is off: register it first)`,
    );
  }
  return found.id;
}

/**
 * Writer schemas by id, each prepared once (`prepare` parses or compiles it); an unknown id is a
 * `DECODE_FAILED`, a registry failure passes through (see {@link decodeError}); failures are not
 * cached.
 */
export class WriterSchemas<Prepared> {
  readonly #byId = new Map<number, Promise<Prepared>>();

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly prepare: (id: number, schema: ResolvedSchema) => Prepared,
  ) {}

  get(id: number, signal: AbortSignal | undefined): Promise<Prepared> {
    let pending = this.#byId.get(id);
    if (!pending) {
      pending = this.#load(id, signal);
      this.#byId.set(id, pending);
      pending.catch(() => this.#byId.delete(id));
    }
    return pending;
  }

  async #load(id: number, signal: AbortSignal | undefined): Promise<Prepared> {
    let resolved: ResolvedSchema;
    try {
      const definition = await this.registry.schemaById(id, { signal });
      if (!definition) throw new CarrierError('DECODE_FAILED', `schema id ${id} is not in the registry`);
      resolved = await resolveReferences(this.registry, definition, signal);
    } catch (error) {
      throw decodeError(error, `writer schema ${id}`);
    }
    try {
      return this.prepare(id, resolved);
    } catch (error) {
      throw decodeError(error, `writer schema ${id}`);
    }
  }
}

/** Fetch the schemas `definition` references, recursively, from the registry. */
export async function resolveReferences(
  registry: SchemaRegistry,
  definition: SchemaDefinition,
  signal: AbortSignal | undefined,
  seen: ReadonlySet<string> = new Set(),
): Promise<ResolvedSchema> {
  const references: { name: string; schema: ResolvedSchema }[] = [];
  for (const reference of definition.references ?? []) {
    references.push({
      name: reference.name,
      schema: await resolveReference(registry, reference, signal, seen),
    });
  }
  return { definition, references };
}

async function resolveReference(
  registry: SchemaRegistry,
  reference: SchemaReference,
  signal: AbortSignal | undefined,
  seen: ReadonlySet<string>,
): Promise<ResolvedSchema> {
  const at = `${reference.subject}@${reference.version}`;
  if (seen.has(at)) throw new CarrierError('INVALID_ARGUMENT', `reference cycle through ${at}`);
  const target = await registry.version(reference.subject, reference.version, { signal });
  if (!target) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `reference ${reference.name}: subject "${reference.subject}" has no version ${reference.version}`,
    );
  }
  return resolveReferences(registry, target, signal, new Set([...seen, at]));
}

/** Codes an encode passes on as they are; anything else becomes `ENCODE_FAILED`. */
const ENCODE_CODES = new Set(['ENCODE_FAILED', 'SCHEMA_INCOMPATIBLE', 'INVALID_MESSAGE', 'ABORTED']);

/**
 * A failure during encode as the codec SPI names it: `SCHEMA_INCOMPATIBLE`, `INVALID_MESSAGE`,
 * `ABORTED` as they are, anything else (registry unreachable, refused, too slow) `ENCODE_FAILED`
 * with the original as `cause`.
 */
export function encodeError(error: unknown, what: string): CarrierError {
  if (isCarrierError(error) && ENCODE_CODES.has(error.code)) return error;
  const code = isCarrierError(error) ? `${error.code}: ` : '';
  const message = error instanceof Error ? error.message : String(error);
  return new CarrierError('ENCODE_FAILED', `cannot encode: ${what}: ${code}${message}`, { cause: error });
}

/**
 * Codes a decode passes on as they are: the registry could not be asked (`CONNECTION`, `TIMEOUT`,
 * `AUTH_FAILED`, `ABORTED`) — the message may be fine, so it must not be dead-lettered as
 * undecodable; `DECODE_FAILED` and `INVALID_MESSAGE` are the message's own fault.
 */
const DECODE_CODES = new Set([
  'DECODE_FAILED',
  'INVALID_MESSAGE',
  'CONNECTION',
  'TIMEOUT',
  'AUTH_FAILED',
  'ABORTED',
]);

/** A failure during decode: the codes above as they are, anything else `DECODE_FAILED`. */
export function decodeError(error: unknown, what: string): CarrierError {
  if (isCarrierError(error) && DECODE_CODES.has(error.code)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new CarrierError('DECODE_FAILED', `cannot decode: ${what}: ${message}`, { cause: error });
}

/** A path of record field names (avsc) into `value`, with array positions as numbers. */
export function pathInto(value: unknown, segments: readonly string[]): (string | number)[] {
  const path: (string | number)[] = [];
  let at: unknown = value;
  for (const segment of segments) {
    const index = Array.isArray(at) && /^\d+$/.test(segment) ? Number(segment) : undefined;
    path.push(index ?? segment);
    at = at !== null && typeof at === 'object' ? (at as Record<string, unknown>)[segment] : undefined;
  }
  return path;
}

/** A `Buffer` view of `bytes` (no copy), for libraries that want one (avsc). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The first issues as one line, for an error message. */
export function summarize(issues: readonly ValidationIssue[]): string {
  const first = issues.slice(0, 3).map((i) => `${i.path?.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
  return `${first.join('; ')}${issues.length > 3 ? ` (+${issues.length - 3} more)` : ''}`;
}
