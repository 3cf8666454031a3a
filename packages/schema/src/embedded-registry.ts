import { CarrierError } from '@carrier/core';
import { checkLevel, compatibilityProblems, type PreviousVersion } from './compatibility.js';
import { loadFormat, type ResolvedSchema, type SchemaFormat } from './formats/format.js';
import type {
  CompatibilityLevel,
  CompatibilityResult,
  RegisteredSchema,
  RegistryCallOptions,
  SchemaDefinition,
  SchemaRegistry,
  SchemaType,
  TestCompatibilityOptions,
} from './registry.js';

/** Options of {@link EmbeddedRegistry}. */
export interface EmbeddedRegistryOptions {
  /** The global compatibility level. Default `BACKWARD` (Confluent's default). */
  readonly compatibility?: CompatibilityLevel | undefined;
}

interface StoredSchema {
  readonly id: number;
  readonly definition: SchemaDefinition;
  readonly key: string;
}

interface Parsed {
  readonly format: SchemaFormat<unknown>;
  readonly parsed: unknown;
  readonly key: string;
}

/**
 * A schema registry in memory, with the semantics of Confluent's (see {@link SchemaRegistry}):
 * global ids from 1, the same id for the same schema in every subject, versions per subject,
 * compatibility levels per subject and global (`BACKWARD` by default), checked on `register`
 * before anything is stored (`SCHEMA_INCOMPATIBLE`). For `memory://`, tests, and, served over HTTP
 * by {@link serveRegistry}, for tools that speak the Confluent REST API.
 *
 * Two schemas are the same schema when their type, references and canonical form agree: Avro as
 * avsc writes it back (formatting, attribute order and `"type": "string"` vs `"string"` aside),
 * Protobuf as protobufjs parses it (formatting and comments aside), JSON Schema as parsed JSON
 * (formatting aside). Compatibility is checked per language: see `formats/avro.ts`,
 * `formats/protobuf.ts` and `formats/json-schema.ts` (the rules are listed in the package README).
 *
 * Calls are answered at once; `signal` is checked on entry (`ABORTED`).
 */
export class EmbeddedRegistry implements SchemaRegistry {
  readonly #schemas: StoredSchema[] = [];
  readonly #idByKey = new Map<string, number>();
  readonly #subjects = new Map<string, number[]>();
  readonly #levels = new Map<string, CompatibilityLevel>();
  /** Parsed stored schemas by id (they never change). */
  readonly #parsed = new Map<number, Parsed>();
  #global: CompatibilityLevel;
  #registering: Promise<unknown> = Promise.resolve();

  constructor(options: EmbeddedRegistryOptions = {}) {
    this.#global = checkLevel(options.compatibility ?? 'BACKWARD');
  }

  register(subject: string, schema: SchemaDefinition, options: RegistryCallOptions = {}): Promise<number> {
    // One registration at a time: each checks against, and appends to, the versions the previous
    // one left (parsing awaits a format's module, so two could otherwise interleave).
    const run = this.#registering.then(() => this.#register(subject, schema, options));
    this.#registering = run.catch(() => {});
    return run;
  }

  async #register(subject: string, schema: SchemaDefinition, options: RegistryCallOptions): Promise<number> {
    checkSignal(options.signal);
    checkSubject(subject);
    const candidate = await this.#parse(schema);
    checkSignal(options.signal);
    const versions = this.#subjects.get(subject) ?? [];
    const existing = versions.find((id) => this.#schemas[id - 1]?.key === candidate.key);
    if (existing !== undefined) return existing;
    const level = this.#levelOf(subject);
    const problems = await this.#problems(subject, candidate, schema.schemaType, level, undefined);
    if (problems.length > 0) {
      throw new CarrierError(
        'SCHEMA_INCOMPATIBLE',
        `schema for subject "${subject}" is incompatible under ${level}: ${problems.join('; ')}`,
      );
    }
    let id = this.#idByKey.get(candidate.key);
    if (id === undefined) {
      id = this.#schemas.length + 1;
      this.#schemas.push({ id, definition: copy(schema), key: candidate.key });
      this.#idByKey.set(candidate.key, id);
    }
    this.#subjects.set(subject, [...versions, id]);
    return id;
  }

  async schemaById(id: number, options: RegistryCallOptions = {}): Promise<SchemaDefinition | undefined> {
    checkSignal(options.signal);
    const stored = Number.isInteger(id) && id > 0 ? this.#schemas[id - 1] : undefined;
    return stored ? copy(stored.definition) : undefined;
  }

  async latest(subject: string, options: RegistryCallOptions = {}): Promise<RegisteredSchema | undefined> {
    checkSignal(options.signal);
    const versions = this.#subjects.get(subject) ?? [];
    return versions.length === 0 ? undefined : this.#version(subject, versions.length);
  }

  async version(
    subject: string,
    version: number,
    options: RegistryCallOptions = {},
  ): Promise<RegisteredSchema | undefined> {
    checkSignal(options.signal);
    return this.#version(subject, version);
  }

  async versions(subject: string, options: RegistryCallOptions = {}): Promise<number[]> {
    checkSignal(options.signal);
    return (this.#subjects.get(subject) ?? []).map((_, i) => i + 1);
  }

  async lookup(
    subject: string,
    schema: SchemaDefinition,
    options: RegistryCallOptions = {},
  ): Promise<RegisteredSchema | undefined> {
    checkSignal(options.signal);
    const versions = this.#subjects.get(subject);
    if (!versions) return undefined;
    const { key } = await this.#parse(schema);
    const index = versions.findIndex((id) => this.#schemas[id - 1]?.key === key);
    return index < 0 ? undefined : this.#version(subject, index + 1);
  }

  async compatibility(subject?: string, options: RegistryCallOptions = {}): Promise<CompatibilityLevel> {
    checkSignal(options.signal);
    return subject === undefined ? this.#global : this.#levelOf(subject);
  }

  async setCompatibility(
    level: CompatibilityLevel,
    subject?: string,
    options: RegistryCallOptions = {},
  ): Promise<void> {
    checkSignal(options.signal);
    checkLevel(level);
    if (subject === undefined) this.#global = level;
    else {
      checkSubject(subject);
      this.#levels.set(subject, level);
    }
  }

  async testCompatibility(
    subject: string,
    schema: SchemaDefinition,
    options: TestCompatibilityOptions = {},
  ): Promise<CompatibilityResult> {
    checkSignal(options.signal);
    const candidate = await this.#parse(schema);
    const versions = this.#subjects.get(subject) ?? [];
    let only: number | undefined;
    if (options.version !== undefined) {
      only = options.version === 'latest' ? versions.length : options.version;
      if (!Number.isInteger(only) || only < 1 || only > versions.length) {
        if (options.version === 'latest') return { compatible: true, messages: [] };
        throw new CarrierError('INVALID_ARGUMENT', `subject "${subject}" has no version ${options.version}`);
      }
    }
    const messages = await this.#problems(
      subject,
      candidate,
      schema.schemaType,
      this.#levelOf(subject),
      only,
    );
    return { compatible: messages.length === 0, messages };
  }

  #levelOf(subject: string): CompatibilityLevel {
    return this.#levels.get(subject) ?? this.#global;
  }

  #version(subject: string, version: number): RegisteredSchema | undefined {
    const id = this.#subjects.get(subject)?.[version - 1];
    const stored = id === undefined ? undefined : this.#schemas[id - 1];
    return stored ? { ...copy(stored.definition), subject, id: stored.id, version } : undefined;
  }

  /** Problems of registering `candidate` under `subject` (against `only` that version, if given). */
  async #problems(
    subject: string,
    candidate: Parsed,
    type: SchemaType,
    level: CompatibilityLevel,
    only: number | undefined,
  ): Promise<string[]> {
    const versions = this.#subjects.get(subject) ?? [];
    const previous: PreviousVersion[] = [];
    for (const [index, id] of versions.entries()) {
      const version = index + 1;
      const stored = this.#schemas[id - 1];
      if (!stored || (only !== undefined && version !== only)) continue;
      const sameType = stored.definition.schemaType === type;
      const parsed = sameType ? (await this.#parsedOf(stored)).parsed : undefined;
      previous.push({ version, type: stored.definition.schemaType, parsed });
    }
    return compatibilityProblems({
      level,
      candidate: candidate.parsed,
      candidateType: type,
      format: candidate.format,
      previous,
      explicitVersion: only !== undefined,
    });
  }

  async #parsedOf(stored: StoredSchema): Promise<Parsed> {
    const cached = this.#parsed.get(stored.id);
    if (cached) return cached;
    const parsed = await this.#parse(stored.definition);
    this.#parsed.set(stored.id, parsed);
    return parsed;
  }

  async #parse(schema: SchemaDefinition): Promise<Parsed> {
    checkDefinition(schema);
    const format = await loadFormat(schema.schemaType);
    const parsed = format.parse(this.#resolve(schema, new Set()));
    return { format, parsed, key: `${schema.schemaType}\n${format.canonical(parsed)}` };
  }

  #resolve(schema: SchemaDefinition, seen: Set<string>): ResolvedSchema {
    const references = (schema.references ?? []).map((reference) => {
      const at = `${reference.subject}@${reference.version}`;
      if (seen.has(at)) throw new CarrierError('INVALID_ARGUMENT', `reference cycle through ${at}`);
      const target = this.#version(reference.subject, reference.version);
      if (!target) {
        throw new CarrierError(
          'INVALID_ARGUMENT',
          `reference ${reference.name}: subject "${reference.subject}" has no version ${reference.version}`,
        );
      }
      return { name: reference.name, schema: this.#resolve(target, new Set([...seen, at])) };
    });
    return { definition: schema, references };
  }
}

function copy(schema: SchemaDefinition): SchemaDefinition {
  return {
    schemaType: schema.schemaType,
    schema: schema.schema,
    ...(schema.references && schema.references.length > 0
      ? {
          references: schema.references.map((r) => ({
            name: r.name,
            subject: r.subject,
            version: r.version,
          })),
        }
      : {}),
  };
}

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new CarrierError('ABORTED', 'registry call aborted', { cause: signal.reason });
  }
}

function checkSubject(subject: string): void {
  if (typeof subject !== 'string' || subject.length === 0) {
    throw new CarrierError('INVALID_ARGUMENT', 'a subject is a non-empty string');
  }
}

function checkDefinition(schema: SchemaDefinition): void {
  if (!['AVRO', 'PROTOBUF', 'JSON'].includes(schema.schemaType)) {
    throw new CarrierError('INVALID_ARGUMENT', `unknown schema type ${String(schema.schemaType)}`);
  }
  if (typeof schema.schema !== 'string')
    throw new CarrierError('INVALID_ARGUMENT', 'schema text must be a string');
}
