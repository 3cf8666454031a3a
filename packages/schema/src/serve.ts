import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isCarrierError } from '@carrier/core';
import type {
  CompatibilityLevel,
  SchemaDefinition,
  SchemaReference,
  SchemaRegistry,
  SchemaType,
} from './registry.js';

/** Options of {@link serveRegistry}. */
export interface ServeRegistryOptions {
  /** TCP port; default 0 (a free port, see {@link ServedRegistry.port}). */
  readonly port?: number | undefined;
  /** Interface to listen on; default `127.0.0.1`. */
  readonly host?: string | undefined;
  /** Path the API is served under, e.g. `/apis/ccompat/v7` as Apicurio does; default none. */
  readonly basePath?: string | undefined;
  /** Require HTTP basic auth with these credentials (401 otherwise); default none. */
  readonly auth?: { readonly username: string; readonly password: string } | undefined;
}

/** A running {@link serveRegistry} server. */
export interface ServedRegistry {
  /** The API's base URL, e.g. `http://127.0.0.1:40123` (with the base path). */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** Stop listening and close open connections (once; later calls wait for the first). */
  close(): Promise<void>;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const MAX_BODY_BYTES = 16 * 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

type Handler = (
  params: readonly string[],
  query: URLSearchParams,
  body: () => Promise<unknown>,
) => Promise<unknown>;

/**
 * Serve `registry` (usually an {@link EmbeddedRegistry}) over the subset of the Confluent Schema
 * Registry REST API that {@link ConfluentRegistryClient} and Confluent's serializers use, on
 * node:http: `POST /subjects/{subject}/versions`, `POST /subjects/{subject}`,
 * `GET /subjects/{subject}/versions[/{version|latest}]`, `GET /schemas/ids/{id}`,
 * `GET|PUT /config[/{subject}]`, `POST /compatibility/subjects/{subject}/versions[/{version}]`,
 * with Confluent's error bodies (`{error_code, message}`: 40401, 40402, 40403, 409, 42201, 42203).
 * `GET /config/{subject}` answers the level in effect (the global one when the subject has none).
 * For tests and local tools; it is not hardened for exposure on a network.
 *
 * @throws the listen error (`EADDRINUSE`, …) as Node raises it.
 */
export async function serveRegistry(
  registry: SchemaRegistry,
  options: ServeRegistryOptions = {},
): Promise<ServedRegistry> {
  const basePath = (options.basePath ?? '').replace(/\/+$/, '');
  const expectedAuth = options.auth
    ? `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`, 'utf8').toString('base64')}`
    : undefined;
  const routes = routesFor(registry);
  const server = createServer((request, response) => {
    void handle(request, response).catch(() => response.destroy());
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      if (expectedAuth !== undefined && request.headers.authorization !== expectedAuth) {
        throw new HttpError(401, 401, 'Unauthorized');
      }
      const url = new URL(request.url ?? '/', 'http://registry');
      if (!url.pathname.startsWith(`${basePath}/`)) throw new HttpError(404, 404, 'HTTP 404 Not Found');
      const segments = url.pathname.slice(basePath.length + 1).split('/');
      const route = match(routes, request.method ?? 'GET', segments);
      if (!route) throw new HttpError(404, 404, 'HTTP 404 Not Found');
      const result = await route.handler(route.params, url.searchParams, () => readJson(request));
      send(response, 200, result);
    } catch (error) {
      const e = toHttpError(error);
      send(response, e.status, { error_code: e.errorCode, message: e.message });
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}${basePath}`,
    port: address.port,
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

interface Route {
  readonly method: string;
  /** Path segments; `:` marks a parameter. */
  readonly pattern: readonly string[];
  readonly handler: Handler;
}

function match(
  routes: readonly Route[],
  method: string,
  segments: readonly string[],
): { handler: Handler; params: string[] } | undefined {
  for (const route of routes) {
    if (route.method !== method || route.pattern.length !== segments.length) continue;
    const params: string[] = [];
    let ok = true;
    for (const [i, expected] of route.pattern.entries()) {
      const actual = segments[i] ?? '';
      if (expected === ':') {
        try {
          params.push(decodeURIComponent(actual));
        } catch {
          ok = false;
        }
      } else if (expected !== actual) ok = false;
      if (!ok) break;
    }
    if (ok) return { handler: route.handler, params };
  }
  return undefined;
}

function routesFor(registry: SchemaRegistry): Route[] {
  const subjectNotFound = (subject: string) => new HttpError(404, 40401, `Subject '${subject}' not found.`);
  const version = async (subject: string, raw: string) => {
    const found =
      raw === 'latest' || raw === '-1'
        ? await registry.latest(subject)
        : await registry.version(subject, versionNumber(raw));
    if (found) return found;
    if ((await registry.versions(subject)).length === 0) throw subjectNotFound(subject);
    throw new HttpError(404, 40402, `Version ${raw} not found.`);
  };
  const compatibility = async (
    subject: string,
    raw: string | undefined,
    body: unknown,
    query: URLSearchParams,
  ) => {
    const result = await registry.testCompatibility(subject, definitionOf(body), {
      version: raw === undefined ? undefined : raw === 'latest' ? 'latest' : versionNumber(raw),
    });
    return query.get('verbose') === 'true'
      ? { is_compatible: result.compatible, messages: result.messages }
      : { is_compatible: result.compatible };
  };
  return [
    {
      method: 'POST',
      pattern: ['subjects', ':', 'versions'],
      handler: async ([subject = ''], _q, body) => ({
        id: await registry.register(subject, definitionOf(await body())),
      }),
    },
    {
      method: 'POST',
      pattern: ['subjects', ':'],
      handler: async ([subject = ''], _q, body) => {
        const definition = definitionOf(await body());
        const found = await registry.lookup(subject, definition);
        if (found) return wire(found);
        if ((await registry.versions(subject)).length === 0) throw subjectNotFound(subject);
        throw new HttpError(404, 40403, 'Schema not found');
      },
    },
    {
      method: 'GET',
      pattern: ['subjects', ':', 'versions'],
      handler: async ([subject = '']) => {
        const versions = await registry.versions(subject);
        if (versions.length === 0) throw subjectNotFound(subject);
        return versions;
      },
    },
    {
      method: 'GET',
      pattern: ['subjects', ':', 'versions', ':'],
      handler: async ([subject = '', raw = '']) => wire(await version(subject, raw)),
    },
    {
      method: 'GET',
      pattern: ['schemas', 'ids', ':'],
      handler: async ([raw = '']) => {
        const id = Number(raw);
        const found = Number.isInteger(id) && id > 0 ? await registry.schemaById(id) : undefined;
        if (!found) throw new HttpError(404, 40403, `Schema ${raw} not found`);
        return wire(found);
      },
    },
    {
      method: 'GET',
      pattern: ['config'],
      handler: async () => ({ compatibilityLevel: await registry.compatibility() }),
    },
    {
      method: 'GET',
      pattern: ['config', ':'],
      handler: async ([subject = '']) => ({ compatibilityLevel: await registry.compatibility(subject) }),
    },
    {
      method: 'PUT',
      pattern: ['config'],
      handler: async (_p, _q, body) => {
        const level = levelOf(await body());
        await registry.setCompatibility(level);
        return { compatibility: level };
      },
    },
    {
      method: 'PUT',
      pattern: ['config', ':'],
      handler: async ([subject = ''], _q, body) => {
        const level = levelOf(await body());
        await registry.setCompatibility(level, subject);
        return { compatibility: level };
      },
    },
    {
      method: 'POST',
      pattern: ['compatibility', 'subjects', ':', 'versions'],
      handler: async ([subject = ''], query, body) => compatibility(subject, undefined, await body(), query),
    },
    {
      method: 'POST',
      pattern: ['compatibility', 'subjects', ':', 'versions', ':'],
      handler: async ([subject = '', raw = ''], query, body) => {
        if (raw !== 'latest' && (await registry.version(subject, versionNumber(raw))) === undefined) {
          if ((await registry.versions(subject)).length === 0) throw subjectNotFound(subject);
          throw new HttpError(404, 40402, `Version ${raw} not found.`);
        }
        return compatibility(subject, raw, await body(), query);
      },
    },
  ];
}

/** A schema as Confluent's API writes it: `schemaType` left out for Avro, `references` when any. */
function wire(schema: SchemaDefinition & { subject?: string; id?: number; version?: number }): unknown {
  const { schemaType, references, ...rest } = schema;
  return {
    ...rest,
    ...(schemaType === 'AVRO' ? {} : { schemaType }),
    ...(references && references.length > 0 ? { references } : {}),
  };
}

function versionNumber(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new HttpError(422, 42202, `The specified version '${raw}' is not a valid version id.`);
  }
  return n;
}

function definitionOf(body: unknown): SchemaDefinition {
  const raw = body as { schema?: unknown; schemaType?: unknown; references?: unknown } | undefined;
  if (typeof raw?.schema !== 'string') throw new HttpError(422, 42201, 'Invalid schema: no "schema" text');
  const schemaType = raw.schemaType ?? 'AVRO';
  if (schemaType !== 'AVRO' && schemaType !== 'PROTOBUF' && schemaType !== 'JSON') {
    throw new HttpError(422, 42201, `Invalid schema type ${String(schemaType)}`);
  }
  const references = raw.references === undefined ? [] : referencesOf(raw.references);
  return {
    schemaType: schemaType as SchemaType,
    schema: raw.schema,
    ...(references.length ? { references } : {}),
  };
}

function referencesOf(raw: unknown): SchemaReference[] {
  if (!Array.isArray(raw)) throw new HttpError(422, 42201, 'Invalid schema: references is not a list');
  return raw.map((r: { name?: unknown; subject?: unknown; version?: unknown }) => {
    if (typeof r?.name !== 'string' || typeof r.subject !== 'string' || typeof r.version !== 'number') {
      throw new HttpError(422, 42201, 'Invalid schema: malformed reference');
    }
    return { name: r.name, subject: r.subject, version: r.version };
  });
}

function levelOf(body: unknown): CompatibilityLevel {
  const level = (body as { compatibility?: unknown } | undefined)?.compatibility;
  if (typeof level !== 'string') throw new HttpError(422, 42203, 'Invalid compatibility level');
  return level as CompatibilityLevel;
}

function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (isCarrierError(error, 'SCHEMA_INCOMPATIBLE')) return new HttpError(409, 409, error.message);
  if (isCarrierError(error, 'INVALID_ARGUMENT')) {
    const level = /compatibility level/.test(error.message);
    return new HttpError(422, level ? 42203 : 42201, error.message);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new HttpError(500, 50001, `Error in the backend data store: ${message}`);
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 413, 'Request body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text.length === 0 ? undefined : JSON.parse(text);
  } catch {
    throw new HttpError(400, 400, 'Unexpected character in the request body: not JSON');
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
  response.end(text);
}
