import { CarrierError, redactUrl } from '@carrier/core';
import { checkLevel } from './compatibility.js';
import type {
  CompatibilityLevel,
  CompatibilityResult,
  RegisteredSchema,
  RegistryCallOptions,
  SchemaDefinition,
  SchemaReference,
  SchemaRegistry,
  SchemaType,
  TestCompatibilityOptions,
} from './registry.js';

/** Options of {@link ConfluentRegistryClient}. */
export interface ConfluentRegistryOptions {
  /**
   * Base URL of the API: `http://localhost:8081` (Confluent Schema Registry),
   * `http://host:8080/apis/ccompat/v7` (Apicurio Registry's Confluent-compatible API),
   * `https://psrc-….confluent.cloud`. User info in the URL (`https://key:secret@host`) is taken
   * as basic auth and removed from the URL.
   */
  readonly url: string;
  /** HTTP basic auth (an API key and secret on Confluent Cloud). Never printed. */
  readonly auth?: { readonly username: string; readonly password: string } | undefined;
  /** Deadline of each request, in milliseconds, body included (`TIMEOUT` past it). Default 10 000. */
  readonly timeoutMs?: number | undefined;
  /** Extra request headers (never printed). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const ACCEPT = `${CONTENT_TYPE}, application/vnd.schemaregistry+json; qs=0.9, application/json; qs=0.5`;

/** Confluent's error codes of "not found" answers (HTTP 404). */
const SUBJECT_NOT_FOUND = 40401;
const VERSION_NOT_FOUND = 40402;
const SCHEMA_NOT_FOUND = 40403;
const SUBJECT_LEVEL_NOT_FOUND = 40408;

interface Answer {
  readonly status: number;
  readonly body: unknown;
  /** Confluent's `error_code` of an error answer. */
  readonly errorCode: number | undefined;
  /** The registry's `message` of an error answer. */
  readonly message: string;
}

/**
 * A client of the Confluent Schema Registry REST API
 * ({@link https://docs.confluent.io/platform/current/schema-registry/develop/api.html | API reference}),
 * over the global `fetch`. Works with any server of that API: Confluent Schema Registry, Apicurio
 * Registry (`…/apis/ccompat/v7`), Redpanda, Karapace, and {@link serveRegistry}.
 *
 * Caches what cannot change: schemas by id, and the id (and version) of a schema under a subject
 * once registered or looked up, so a codec calls the registry once per schema, not per message.
 * Concurrent requests for the same id share one call.
 *
 * Errors (`CarrierError`, messages name the URL without credentials):
 * - `CONNECTION`: the registry cannot be reached, or answered 5xx or something that is not JSON;
 * - `TIMEOUT`: no complete answer within `timeoutMs`;
 * - `ABORTED`: the call's `signal` fired (`cause` = `signal.reason`);
 * - `AUTH_FAILED`: HTTP 401 or 403 (the message names the user, never the password);
 * - `SCHEMA_INCOMPATIBLE`: HTTP 409 on `register`, with the registry's reasons;
 * - `INVALID_ARGUMENT`: HTTP 422 (a schema that does not parse: 42201, an unknown level: 42203)
 *   and other 4xx answers, such as a 404 from a URL that is not the API's base.
 * Not-found answers (40401 subject, 40402 version, 40403 schema) are `undefined` results.
 */
export class ConfluentRegistryClient implements SchemaRegistry {
  readonly #base: string;
  readonly #printable: string;
  readonly #headers: Record<string, string>;
  readonly #user: string | undefined;
  readonly #timeoutMs: number;
  readonly #byId = new Map<number, Promise<SchemaDefinition | undefined>>();
  readonly #bySubjectSchema = new Map<string, RegisteredSchema | number>();

  /**
   * @throws CarrierError `INVALID_ARGUMENT` for a URL that is not http(s) (or whose credentials are
   *   not valid percent-encoding) or a `timeoutMs` that is
   *   not a positive number.
   */
  constructor(options: ConfluentRegistryOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch (cause) {
      throw new CarrierError('INVALID_ARGUMENT', `registry URL ${redactUrl(options.url)} is not a URL`, {
        cause,
      });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new CarrierError('INVALID_ARGUMENT', `registry URL ${redactUrl(url)} is not http or https`);
    }
    let auth = options.auth;
    if (url.username || url.password) {
      try {
        auth ??= { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
      } catch {
        // no cause: the message of a URIError could quote the credentials
        throw new CarrierError(
          'INVALID_ARGUMENT',
          `registry URL ${redactUrl(url)} has credentials that are not valid percent-encoding`,
        );
      }
      url.username = '';
      url.password = '';
    }
    const timeoutMs = options.timeoutMs ?? 10_000;
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      throw new CarrierError('INVALID_ARGUMENT', `timeoutMs must be a positive number of milliseconds`);
    }
    this.#base = url.toString().replace(/\/+$/, '');
    this.#printable = redactUrl(this.#base).replace(/\/$/, '');
    this.#timeoutMs = timeoutMs;
    this.#user = auth?.username;
    this.#headers = { accept: ACCEPT, ...options.headers };
    if (auth) {
      const token = Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64');
      this.#headers.authorization = `Basic ${token}`;
    }
  }

  /** The API's base URL, without credentials. */
  get url(): string {
    return this.#printable;
  }

  async register(
    subject: string,
    schema: SchemaDefinition,
    options: RegistryCallOptions = {},
  ): Promise<number> {
    const key = cacheKey(subject, schema);
    const cached = this.#bySubjectSchema.get(key);
    if (cached !== undefined) return typeof cached === 'number' ? cached : cached.id;
    const answer = await this.#call('POST', `/subjects/${part(subject)}/versions`, body(schema), options);
    if (answer.status === 409) {
      throw new CarrierError(
        'SCHEMA_INCOMPATIBLE',
        `registry ${this.#printable} refused the schema for subject "${subject}" as incompatible: ${answer.message}`,
      );
    }
    const id = this.#expectOk(answer, `register a schema under subject "${subject}"`, numberField('id'));
    this.#bySubjectSchema.set(key, id);
    return id;
  }

  schemaById(id: number, options: RegistryCallOptions = {}): Promise<SchemaDefinition | undefined> {
    const cached = this.#byId.get(id);
    if (cached) return cached;
    const pending = this.#fetchSchema(id, options);
    this.#byId.set(id, pending);
    pending.then(
      (found) => {
        if (!found) this.#byId.delete(id);
      },
      () => this.#byId.delete(id),
    );
    return pending;
  }

  async #fetchSchema(id: number, options: RegistryCallOptions): Promise<SchemaDefinition | undefined> {
    const answer = await this.#call('GET', `/schemas/ids/${part(String(id))}`, undefined, options);
    if (answer.status === 404 && answer.errorCode === SCHEMA_NOT_FOUND) return undefined;
    return this.#expectOk(answer, `read schema ${id}`, definitionOf);
  }

  async latest(subject: string, options: RegistryCallOptions = {}): Promise<RegisteredSchema | undefined> {
    return this.#getVersion(subject, 'latest', options);
  }

  async version(
    subject: string,
    version: number,
    options: RegistryCallOptions = {},
  ): Promise<RegisteredSchema | undefined> {
    return this.#getVersion(subject, version, options);
  }

  async #getVersion(
    subject: string,
    version: number | 'latest',
    options: RegistryCallOptions,
  ): Promise<RegisteredSchema | undefined> {
    const path = `/subjects/${part(subject)}/versions/${part(String(version))}`;
    const answer = await this.#call('GET', path, undefined, options);
    if (
      answer.status === 404 &&
      (answer.errorCode === SUBJECT_NOT_FOUND || answer.errorCode === VERSION_NOT_FOUND)
    ) {
      return undefined;
    }
    return this.#expectOk(answer, `read version ${version} of subject "${subject}"`, (b) =>
      registeredOf(b, subject),
    );
  }

  async versions(subject: string, options: RegistryCallOptions = {}): Promise<number[]> {
    const answer = await this.#call('GET', `/subjects/${part(subject)}/versions`, undefined, options);
    if (answer.status === 404 && answer.errorCode === SUBJECT_NOT_FOUND) return [];
    return this.#expectOk(answer, `list the versions of subject "${subject}"`, (b) => {
      if (!Array.isArray(b) || !b.every((v) => typeof v === 'number'))
        throw new TypeError('not a list of numbers');
      return [...b].sort((x, y) => x - y);
    });
  }

  async lookup(
    subject: string,
    schema: SchemaDefinition,
    options: RegistryCallOptions = {},
  ): Promise<RegisteredSchema | undefined> {
    const key = cacheKey(subject, schema);
    const cached = this.#bySubjectSchema.get(key);
    if (cached !== undefined && typeof cached !== 'number') return cached;
    const answer = await this.#call('POST', `/subjects/${part(subject)}`, body(schema), options);
    if (
      answer.status === 404 &&
      (answer.errorCode === SUBJECT_NOT_FOUND || answer.errorCode === SCHEMA_NOT_FOUND)
    ) {
      return undefined;
    }
    const found = this.#expectOk(answer, `look up a schema under subject "${subject}"`, (b) =>
      registeredOf(b, subject, schema),
    );
    this.#bySubjectSchema.set(key, found);
    return found;
  }

  async compatibility(subject?: string, options: RegistryCallOptions = {}): Promise<CompatibilityLevel> {
    if (subject !== undefined) {
      const answer = await this.#call(
        'GET',
        `/config/${part(subject)}?defaultToGlobal=true`,
        undefined,
        options,
      );
      const notSet = answer.errorCode === SUBJECT_NOT_FOUND || answer.errorCode === SUBJECT_LEVEL_NOT_FOUND;
      if (!(answer.status === 404 && notSet)) {
        return this.#expectOk(answer, `read the compatibility level of subject "${subject}"`, levelOf);
      }
    }
    const answer = await this.#call('GET', '/config', undefined, options);
    return this.#expectOk(answer, 'read the global compatibility level', levelOf);
  }

  async setCompatibility(
    level: CompatibilityLevel,
    subject?: string,
    options: RegistryCallOptions = {},
  ): Promise<void> {
    checkLevel(level);
    const path = subject === undefined ? '/config' : `/config/${part(subject)}`;
    const answer = await this.#call('PUT', path, { compatibility: level }, options);
    this.#expectOk(
      answer,
      `set the compatibility level${subject === undefined ? '' : ` of subject "${subject}"`}`,
      () => {},
    );
  }

  async testCompatibility(
    subject: string,
    schema: SchemaDefinition,
    options: TestCompatibilityOptions = {},
  ): Promise<CompatibilityResult> {
    const versions = options.version === undefined ? '' : `/${part(String(options.version))}`;
    const path = `/compatibility/subjects/${part(subject)}/versions${versions}?verbose=true`;
    const answer = await this.#call('POST', path, body(schema), options);
    if (
      answer.status === 404 &&
      (answer.errorCode === VERSION_NOT_FOUND || answer.errorCode === SUBJECT_NOT_FOUND)
    ) {
      // No versions at all: anything may become version 1.
      if (typeof options.version !== 'number') return { compatible: true, messages: [] };
      throw new CarrierError('INVALID_ARGUMENT', `subject "${subject}" has no version ${options.version}`);
    }
    return this.#expectOk(answer, `test a schema against subject "${subject}"`, (b) => {
      const result = b as { is_compatible?: unknown; messages?: unknown };
      if (typeof result.is_compatible !== 'boolean') throw new TypeError('no is_compatible');
      const messages = Array.isArray(result.messages) ? result.messages.map(String) : [];
      return { compatible: result.is_compatible, messages };
    });
  }

  /** Check an answer: 2xx gives `read(body)`; anything else becomes the matching error. */
  #expectOk<T>(answer: Answer, what: string, read: (body: unknown) => T): T {
    if (answer.status >= 200 && answer.status < 300) {
      try {
        return read(answer.body);
      } catch (cause) {
        throw new CarrierError(
          'CONNECTION',
          `registry ${this.#printable} answered "${what}" with an unexpected body: ${(cause as Error).message}`,
          { cause },
        );
      }
    }
    const detail = `${answer.status}${answer.errorCode ? ` (${answer.errorCode})` : ''}: ${answer.message}`;
    if (answer.status === 401 || answer.status === 403) {
      const who = this.#user === undefined ? 'without credentials' : `as user "${this.#user}"`;
      throw new CarrierError(
        'AUTH_FAILED',
        `registry ${this.#printable} refused to ${what} ${who}: HTTP ${detail}`,
      );
    }
    if (answer.status === 409) {
      throw new CarrierError(
        'SCHEMA_INCOMPATIBLE',
        `registry ${this.#printable} refused to ${what}: ${answer.message}`,
      );
    }
    if (answer.status >= 500) {
      throw new CarrierError('CONNECTION', `registry ${this.#printable} failed to ${what}: HTTP ${detail}`);
    }
    const generic = answer.errorCode === undefined || answer.errorCode === 404;
    const hint = answer.status === 404 && generic ? ' (is the URL the API base?)' : '';
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `registry ${this.#printable} refused to ${what}: HTTP ${detail}${hint}`,
    );
  }

  async #call(method: string, path: string, payload: unknown, options: RegistryCallOptions): Promise<Answer> {
    const { signal } = options;
    if (signal?.aborted) throw aborted(signal);
    const deadline = AbortSignal.timeout(this.#timeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
    const headers =
      payload === undefined ? this.#headers : { ...this.#headers, 'content-type': CONTENT_TYPE };
    const request = `${method} ${path.replace(/\?.*$/, '')}`;
    try {
      const response = await fetch(`${this.#base}${path}`, {
        method,
        headers,
        body: payload === undefined ? null : JSON.stringify(payload),
        signal: combined,
        redirect: 'follow',
      });
      const text = await response.text();
      return answerOf(response.status, text, () => this.#notJson(request, response.status));
    } catch (error) {
      if (error instanceof CarrierError) throw error;
      if (signal?.aborted) throw aborted(signal);
      if (deadline.aborted) {
        throw new CarrierError(
          'TIMEOUT',
          `registry ${this.#printable} did not answer ${request} within ${this.#timeoutMs} ms`,
          { cause: error },
        );
      }
      throw new CarrierError(
        'CONNECTION',
        `cannot reach registry ${this.#printable} (${request}): ${describe(error)}`,
        { cause: error },
      );
    }
  }

  #notJson(request: string, status: number): CarrierError {
    return new CarrierError(
      'CONNECTION',
      `registry ${this.#printable} answered ${request} with HTTP ${status} and a body that is not JSON (is the URL the API base?)`,
    );
  }
}

function answerOf(status: number, text: string, notJson: () => CarrierError): Answer {
  let parsed: unknown;
  try {
    parsed = text.length === 0 ? undefined : JSON.parse(text);
  } catch {
    if (status >= 200 && status < 300) throw notJson();
    return { status, body: undefined, errorCode: undefined, message: text.slice(0, 200) };
  }
  if (status >= 200 && status < 300) return { status, body: parsed, errorCode: undefined, message: '' };
  const error = (parsed ?? {}) as { error_code?: unknown; message?: unknown };
  return {
    status,
    body: parsed,
    errorCode: typeof error.error_code === 'number' ? error.error_code : undefined,
    message: typeof error.message === 'string' ? error.message : text.slice(0, 200),
  };
}

function aborted(signal: AbortSignal): CarrierError {
  return new CarrierError('ABORTED', 'registry call aborted', { cause: signal.reason });
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return code ? `${message} (${code})` : message;
}

/** A path segment: subjects may hold `/`, `:` and other characters. */
function part(segment: string): string {
  return encodeURIComponent(segment);
}

function cacheKey(subject: string, schema: SchemaDefinition): string {
  return JSON.stringify([subject, schema.schemaType, schema.references ?? [], schema.schema]);
}

/** The request body of a schema: `schemaType` omitted for Avro (older registries know no other). */
function body(schema: SchemaDefinition): Record<string, unknown> {
  return {
    schema: schema.schema,
    ...(schema.schemaType === 'AVRO' ? {} : { schemaType: schema.schemaType }),
    ...(schema.references && schema.references.length > 0 ? { references: schema.references } : {}),
  };
}

function numberField(name: string): (body: unknown) => number {
  return (b) => {
    const value = (b as Record<string, unknown> | undefined)?.[name];
    if (typeof value !== 'number') throw new TypeError(`no number "${name}"`);
    return value;
  };
}

function definitionOf(b: unknown): SchemaDefinition {
  const raw = b as { schema?: unknown; schemaType?: unknown; references?: unknown };
  if (typeof raw?.schema !== 'string') throw new TypeError('no "schema" text');
  const schemaType = (raw.schemaType ?? 'AVRO') as SchemaType;
  if (!['AVRO', 'PROTOBUF', 'JSON'].includes(schemaType))
    throw new TypeError(`schemaType ${String(schemaType)}`);
  const references = Array.isArray(raw.references) ? raw.references.map(referenceOf) : [];
  return { schemaType, schema: raw.schema, ...(references.length > 0 ? { references } : {}) };
}

function referenceOf(r: unknown): SchemaReference {
  const raw = r as { name?: unknown; subject?: unknown; version?: unknown };
  if (typeof raw?.name !== 'string' || typeof raw.subject !== 'string' || typeof raw.version !== 'number') {
    throw new TypeError('malformed reference');
  }
  return { name: raw.name, subject: raw.subject, version: raw.version };
}

function registeredOf(b: unknown, subject: string, asked?: SchemaDefinition): RegisteredSchema {
  const raw = b as { id?: unknown; version?: unknown; subject?: unknown; schema?: unknown };
  if (typeof raw?.id !== 'number' || typeof raw.version !== 'number')
    throw new TypeError('no id and version');
  // A lookup answer may leave out the schema text: the asked one is it.
  const definition = asked && typeof raw.schema !== 'string' ? asked : definitionOf(b);
  return {
    ...definition,
    subject: typeof raw.subject === 'string' ? raw.subject : subject,
    id: raw.id,
    version: raw.version,
  };
}

function levelOf(b: unknown): CompatibilityLevel {
  const raw = b as { compatibilityLevel?: unknown; compatibility?: unknown };
  const level = raw?.compatibilityLevel ?? raw?.compatibility;
  if (typeof level !== 'string') throw new TypeError('no compatibilityLevel');
  return checkLevel(level);
}
