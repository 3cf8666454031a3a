/**
 * The schema registry, as Carrier's schema codecs use it: the subset of the Confluent Schema
 * Registry API that serializers need (register, look up, fetch by id, compatibility). Two
 * implementations: {@link ConfluentRegistryClient} (any server of the Confluent REST API: Confluent
 * Schema Registry, Apicurio Registry's `ccompat` API, Redpanda, Karapace) and
 * {@link EmbeddedRegistry} (in memory, for `memory://` and tests).
 *
 * Semantics (both implementations, as Confluent's):
 * - Schema ids are global: the same schema (same type, text up to formatting, references) has one
 *   id in every subject, and keeps it forever.
 * - A subject is a list of versions 1, 2, …; registering the schema of an existing version returns
 *   that version's id and adds nothing.
 * - Registering a new version is checked against the subject's compatibility level (the global one
 *   unless the subject has its own; `BACKWARD` by default); a refused schema is not stored.
 *
 * "Not found" is an answer, not an error: the getters return `undefined`, and each caller decides
 * what it means (a codec's decode turns an unknown id into `DECODE_FAILED`).
 *
 * Errors (`CarrierError`): `SCHEMA_INCOMPATIBLE` (register refused under the compatibility level;
 * the message carries the reasons), `INVALID_ARGUMENT` (a schema that does not parse, an unknown
 * compatibility level, a missing reference), and for the client `CONNECTION`, `TIMEOUT`,
 * `AUTH_FAILED`, `ABORTED`.
 */

/** The schema languages the registry knows, by their Confluent names. */
export type SchemaType = 'AVRO' | 'PROTOBUF' | 'JSON';

/**
 * A schema this one imports or names: another subject's version, under the name this schema uses
 * for it (a Protobuf import path, an Avro full name, a JSON Schema `$ref` URL).
 */
export interface SchemaReference {
  /** The name the referencing schema uses, e.g. `google/protobuf/timestamp.proto`. */
  readonly name: string;
  /** The subject the referenced schema is registered under. */
  readonly subject: string;
  /** Its version in that subject. */
  readonly version: number;
}

/** A schema as text, as it is registered. */
export interface SchemaDefinition {
  /** Its language. */
  readonly schemaType: SchemaType;
  /** The schema: Avro JSON, `.proto` text, or a JSON Schema document. */
  readonly schema: string;
  /** Schemas it imports, in order; none by default. */
  readonly references?: readonly SchemaReference[] | undefined;
}

/** A version of a subject. */
export interface RegisteredSchema extends SchemaDefinition {
  /** The subject. */
  readonly subject: string;
  /** The global schema id. */
  readonly id: number;
  /** The version in the subject, from 1. */
  readonly version: number;
}

/**
 * What a new version must be compatible with (Confluent's compatibility types,
 * {@link https://docs.confluent.io/platform/current/schema-registry/fundamentals/schema-evolution.html | Schema Evolution and Compatibility}):
 *
 * - `BACKWARD` (the default): the new schema reads data written with the latest version (upgrade
 *   consumers first);
 * - `FORWARD`: the latest version reads data written with the new schema (upgrade producers first);
 * - `FULL`: both;
 * - the `_TRANSITIVE` forms: the same against every version of the subject, not only the latest;
 * - `NONE`: no check.
 */
export type CompatibilityLevel =
  | 'NONE'
  | 'BACKWARD'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD'
  | 'FORWARD_TRANSITIVE'
  | 'FULL'
  | 'FULL_TRANSITIVE';

/** Every {@link CompatibilityLevel}, for validation. */
export const COMPATIBILITY_LEVELS: readonly CompatibilityLevel[] = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
];

/** The result of {@link SchemaRegistry.testCompatibility}. */
export interface CompatibilityResult {
  /** True when the schema could be registered as a new version. */
  readonly compatible: boolean;
  /** Why not, one line per problem (empty when compatible). */
  readonly messages: readonly string[];
}

/** Options of every registry call. */
export interface RegistryCallOptions {
  /** Cancels the call (`CarrierError` `ABORTED`, `cause` = `signal.reason`). */
  readonly signal?: AbortSignal | undefined;
}

/** Options of {@link SchemaRegistry.testCompatibility}. */
export interface TestCompatibilityOptions extends RegistryCallOptions {
  /**
   * Test against this version only (a number or `'latest'`), whatever the subject's level says
   * about transitivity. Default: against the versions the subject's level names (the latest, or
   * all for a `_TRANSITIVE` level), in the level's direction.
   */
  readonly version?: number | 'latest' | undefined;
}

/** A Confluent-compatible schema registry. See the module notes above for the semantics. */
export interface SchemaRegistry {
  /**
   * Register `schema` under `subject` (a new version when it is not one already) and return its
   * global id. Same schema, same id.
   *
   * @throws CarrierError `SCHEMA_INCOMPATIBLE` under the subject's compatibility level (nothing
   *   stored), `INVALID_ARGUMENT` for a schema that does not parse or a missing reference.
   */
  register(subject: string, schema: SchemaDefinition, options?: RegistryCallOptions): Promise<number>;
  /** The schema with global id `id`, or `undefined` when the registry has none. */
  schemaById(id: number, options?: RegistryCallOptions): Promise<SchemaDefinition | undefined>;
  /** The latest version of `subject`, or `undefined` when the subject has none. */
  latest(subject: string, options?: RegistryCallOptions): Promise<RegisteredSchema | undefined>;
  /** Version `version` of `subject`, or `undefined` when there is no such version. */
  version(
    subject: string,
    version: number,
    options?: RegistryCallOptions,
  ): Promise<RegisteredSchema | undefined>;
  /** The versions of `subject`, ascending; empty for an unknown subject. */
  versions(subject: string, options?: RegistryCallOptions): Promise<number[]>;
  /** The version of `subject` whose schema is `schema`, or `undefined` when it is not registered there. */
  lookup(
    subject: string,
    schema: SchemaDefinition,
    options?: RegistryCallOptions,
  ): Promise<RegisteredSchema | undefined>;
  /** The level that applies to `subject` (its own, else the global one), or the global level. */
  compatibility(subject?: string, options?: RegistryCallOptions): Promise<CompatibilityLevel>;
  /**
   * Set the level of `subject`, or the global level when `subject` is omitted.
   *
   * @throws CarrierError `INVALID_ARGUMENT` for a level not in {@link CompatibilityLevel}.
   */
  setCompatibility(level: CompatibilityLevel, subject?: string, options?: RegistryCallOptions): Promise<void>;
  /** Whether `schema` could be registered under `subject` now, and why not. */
  testCompatibility(
    subject: string,
    schema: SchemaDefinition,
    options?: TestCompatibilityOptions,
  ): Promise<CompatibilityResult>;
}
