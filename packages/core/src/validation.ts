import type { StandardSchemaV1 } from '@standard-schema/spec';
import { CarrierError, type ValidationIssue } from './errors.js';

/**
 * Validating a body with a Standard Schema validator (https://standardschema.dev: zod, valibot,
 * arktype, …) for typed topics: the result or `INVALID_MESSAGE` with the issues, synchronous when
 * the validator is; and the keys a validator stripped put back.
 */

/** Issues named in an `INVALID_MESSAGE` message at most (all of them are in `issues`). */
const ISSUES_IN_MESSAGE = 10;

/** A Standard Schema issue in Carrier's shape: the path as keys and indexes (a symbol as its text). */
function toIssue(issue: StandardSchemaV1.Issue): ValidationIssue {
  const message = String(issue.message);
  if (!issue.path || issue.path.length === 0) return { message };
  const path = issue.path.map((segment) => {
    const key = typeof segment === 'object' && segment !== null ? segment.key : segment;
    return typeof key === 'string' || typeof key === 'number' ? key : String(key);
  });
  return { message, path };
}

/** `issue` for people: `items.0.sku: Invalid input`. */
function describeIssue(issue: ValidationIssue): string {
  return issue.path && issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message;
}

/** The `INVALID_MESSAGE` error of a body of `topic` that `issues` refuse. */
export function invalidMessage(topic: string, issues: readonly StandardSchemaV1.Issue[]): CarrierError {
  const converted = issues.map(toIssue);
  const shown = converted.slice(0, ISSUES_IN_MESSAGE).map(describeIssue).join('; ');
  const more =
    converted.length > ISSUES_IN_MESSAGE ? ` (and ${converted.length - ISSUES_IN_MESSAGE} more)` : '';
  return new CarrierError(
    'INVALID_MESSAGE',
    `body does not match the schema of topic ${topic}: ${shown || 'invalid'}${more}`,
    { issues: converted },
  );
}

/** Whether `value` is a promise (or any thenable). */
function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** `f(value)`, after awaiting `value` only when it is a promise. */
export function andThen<T, R>(
  value: T | PromiseLike<T>,
  f: (value: T) => R | PromiseLike<R>,
): R | Promise<R> {
  if (isThenable(value)) return Promise.resolve(value).then(f);
  return f(value) as R | Promise<R>;
}

/**
 * The validator's output for `value`: synchronous when the validator is (Standard Schema's
 * `~standard.validate` may answer with a promise).
 *
 * @throws CarrierError `INVALID_MESSAGE` (with `issues`) when the validator refuses `value`; an
 *   error the validator itself throws propagates unchanged.
 */
export function validate<Output>(
  schema: StandardSchemaV1<unknown, Output>,
  value: unknown,
  topic: string,
): Output | Promise<Output> {
  return andThen(schema['~standard'].validate(value), (result) => {
    if (result.issues) throw invalidMessage(topic, result.issues);
    return result.value;
  });
}

/** Whether `value` is a plain object (`{}` or `Object.create(null)`), not a class instance. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/**
 * An object whose own enumerable keys are its fields: a plain object, or a record class instance a
 * codec decodes to (avsc's records); not an array, a typed array, a `Date`, a `Map` or the like.
 */
function isRecordLike(value: unknown): value is Record<string, unknown> {
  if (isPlainObject(value)) return true;
  if (typeof value !== 'object' || value === null || Array.isArray(value) || ArrayBuffer.isView(value))
    return false;
  return !(value instanceof Date || value instanceof Map || value instanceof Set || value instanceof RegExp);
}

/** `object[key] = value` as an own data property, even for `__proto__` (a key JSON may carry). */
function put(object: Record<string | symbol, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * `output` (a validator's result for `input`) with the keys the validator dropped put back: every
 * own enumerable key (symbols included) of an object in `input` (a plain object or a codec's record
 * instance) that the matching plain object in `output` lacks is copied over with its value as
 * received, recursively through objects and through arrays
 * of the same length. What the validator did produce is kept as it is (its defaults, coercions and
 * transforms); a value it turned into something else (a class, a `Date`, an array of another
 * length) is not merged. `output` itself is never modified: a changed object is a shallow copy.
 *
 * This is what keeps a forwarder from dropping the fields a newer producer added: zod objects strip
 * unknown keys by default, and a handler that publishes its body on would lose them.
 */
export function withUnknownKeys(input: unknown, output: unknown): unknown {
  if (input === output) return output;
  if (Array.isArray(input) && Array.isArray(output)) {
    if (input.length !== output.length) return output;
    let copy: unknown[] | undefined;
    for (let i = 0; i < output.length; i++) {
      const restored = withUnknownKeys(input[i], output[i]);
      if (restored === output[i]) continue;
      copy ??= [...output];
      copy[i] = restored;
    }
    return copy ?? output;
  }
  if (!isRecordLike(input) || !isPlainObject(output)) return output;
  let copy: Record<string | symbol, unknown> | undefined;
  for (const key of Object.keys(input)) {
    const restored = Object.hasOwn(output, key) ? withUnknownKeys(input[key], output[key]) : input[key];
    if (Object.hasOwn(output, key) && restored === output[key]) continue;
    copy ??= { ...output };
    put(copy, key, restored);
  }
  // enumerable symbol keys too: a codec's marks (e.g. @carrier/schema's writer-schema id, which
  // lets a forwarder write the body back with the writer's schema)
  for (const key of Object.getOwnPropertySymbols(input)) {
    if (Object.hasOwn(output, key) || !Object.prototype.propertyIsEnumerable.call(input, key)) continue;
    copy ??= { ...output };
    copy[key] = (input as Record<symbol, unknown>)[key];
  }
  return copy ?? output;
}
