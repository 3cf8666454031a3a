import type { StandardSchemaV1 } from '@standard-schema/spec';
import { checkCodec } from './codec-options.js';
import type { Codec, DecodeContext, EncodeContext, Encoded } from './codec-spi.js';
import { defaultCodec } from './codecs.js';
import { CarrierError } from './errors.js';
import type {
  BatchEntry,
  CancelOptions,
  DeadLetterQueue,
  Handler,
  Message,
  PublishOptions,
  PublishReceipt,
  RequestOptions,
  SubscribeOptions,
  Subscription,
} from './message.js';
import { validateName } from './names.js';
import { andThen, validate, withUnknownKeys } from './validation.js';

/**
 * Typed topics: `carrier.topic(name, { schema, codec })`, a handle on one topic whose publish and
 * handler bodies have the types of a Standard Schema validator or a `Codec<T>`. The handle adds
 * nothing to the carrier but a codec: one that validates, then encodes with the topic's codec (on
 * publish), and decodes, then validates (on delivery). So every rule of `publish` and `subscribe`
 * applies as it is, and an invalid body is dead-lettered as any undecodable body is.
 */

/** Options of `carrier.topic`. */
export interface TopicOptions<Schema extends StandardSchemaV1 = StandardSchemaV1, T = unknown> {
  /**
   * A Standard Schema validator (https://standardschema.dev: a zod, valibot or arktype schema, …)
   * that every body must pass: `publish` checks the body before it is encoded, the consumer checks
   * the decoded body before the handler runs. Its input type is the type `publish` takes, its
   * output type the type the handler gets.
   */
  schema?: Schema | undefined;
  /**
   * The codec of the topic's bodies (`@carrier/schema`'s Avro, Protobuf and JSON Schema codecs
   * are `Codec<T>`, so `T` is inferred from them). Absent: `defaultCodec` (JSON for objects).
   */
  codec?: Codec<T> | undefined;
}

/**
 * A `Codec<T>` that can encode every `In` (`In` assignable to `T`): the codec of a topic with a
 * schema whose input type is `In` — `Codec<In>` itself, or a wider one such as `jsonCodec`
 * (`Codec<unknown>`). A codec of another type is a compile error (`never`).
 */
export type CodecAccepting<In, T> = Codec<T> & ([In] extends [T] ? unknown : never);

/** Options of `topic.publish`: those of `carrier.publish` but the codec and content type, the topic's. */
export type TopicPublishOptions = Omit<PublishOptions, 'codec' | 'contentType'>;

/** One entry of `topic.publishBatch`: a body of the topic's type and its message options. */
export type TopicBatchEntry<In> = Omit<BatchEntry, 'body' | 'codec' | 'contentType'> & { body: In };

/** Options of `topic.subscribe`: those of `carrier.subscribe` but the codec (the topic's) and `decode`. */
export type TopicSubscribeOptions = Omit<SubscribeOptions, 'codec' | 'decode'>;

/** Options of `topic.request`: those of `carrier.request` but the request's codec (the topic's). */
export type TopicRequestOptions<Reply = unknown> = Omit<
  RequestOptions,
  'codec' | 'contentType' | 'replyCodec'
> & {
  /** Decodes the reply (see `RequestOptions.replyCodec`); `Reply` is inferred from it. */
  replyCodec?: Codec<Reply> | undefined;
};

/**
 * A handle on one topic with typed bodies (`carrier.topic`): `In` is what `publish` takes (the
 * schema's input type, or the codec's type), `Out` what the handler gets (the schema's output type).
 *
 * - `publish`, `publishBatch` and `request` validate each body with the schema (awaited when the
 *   validator is asynchronous) and refuse an invalid one with `CarrierError` `INVALID_MESSAGE`
 *   whose `issues` say why; nothing of the call is sent then. A valid body is encoded as given (the
 *   validator's output is not what is sent), so fields the schema does not know travel on.
 * - `subscribe` decodes each body with the topic's codec, then validates it: a body that cannot be
 *   decoded (`DECODE_FAILED`) or that the validator refuses (`INVALID_MESSAGE`, its issues in the
 *   reason: `body does not match the schema of topic orders: amount: Invalid input`) is
 *   dead-lettered at once, without calling the handler and without retries — never a crash loop.
 *
 * **Unknown fields survive a forwarder.** The handler gets the validator's output (its defaults,
 * coercions and transforms applied), except that the keys the validator stripped are put back, with
 * the values received, recursively through plain objects and arrays. zod objects strip unknown keys
 * by default (`z.object`); without this a service built against an older schema that publishes its
 * `message.body` on (`otherTopic.publish({ ...message.body, status: 'paid' })`) would silently drop
 * every field a newer producer added. The handler's type names only the fields the schema knows;
 * the others are there at run time. To see exactly what the validator returned, validate
 * `message.raw` yourself; to keep unknown keys in your own zod parsing elsewhere, use
 * `z.looseObject` (or `.passthrough()`).
 */
export interface Topic<In, Out = In> {
  /** The topic's name. */
  readonly name: string;
  /**
   * Publish one message (as `carrier.publish`), its body validated first.
   *
   * @throws CarrierError `INVALID_MESSAGE` (with `issues`) for a body the schema refuses; whatever
   *   the codec or `carrier.publish` throws.
   */
  publish(body: In, options?: TopicPublishOptions): Promise<PublishReceipt>;
  /**
   * Publish several messages in one call (as `carrier.publishBatch`), every body validated first:
   * one invalid body refuses the whole batch (`INVALID_MESSAGE`), nothing sent.
   */
  publishBatch(entries: readonly TopicBatchEntry<In>[], options?: CancelOptions): Promise<PublishReceipt[]>;
  /**
   * Consume the topic as a member of `options.group` (as `carrier.subscribe`); the handler gets
   * bodies decoded and validated. See the interface for what happens to an invalid body.
   */
  subscribe(options: TopicSubscribeOptions, handler: Handler<Out>): Promise<Subscription>;
  /** Send a request with a validated body and wait for its reply (as `carrier.request`). */
  request<Reply = unknown>(body: In, options?: TopicRequestOptions<Reply>): Promise<Message<Reply>>;
  /**
   * The dead letters of `group` on this topic (as `carrier.deadLetters`), their bodies decoded with
   * the topic's codec but not validated (an invalid body is why many of them are there); a body
   * that cannot be decoded is handed over as its bytes.
   */
  deadLetters(group: string): DeadLetterQueue;
}

/** What a topic handle uses of its carrier. */
export interface TopicCarrier {
  publish(topic: string, body: unknown, options?: PublishOptions): Promise<PublishReceipt>;
  publishBatch(
    topic: string,
    entries: readonly BatchEntry[],
    options?: CancelOptions & { codec?: Codec | undefined },
  ): Promise<PublishReceipt[]>;
  subscribe<Body>(topic: string, options: SubscribeOptions, handler: Handler<Body>): Promise<Subscription>;
  request<Body>(topic: string, body: unknown, options?: RequestOptions): Promise<Message<Body>>;
  deadLetters(topic: string, group: string): DeadLetterQueue;
}

/** `value`, a `schema` option, checked. @throws CarrierError `INVALID_ARGUMENT`. */
function checkSchema(value: unknown): StandardSchemaV1 | undefined {
  if (value === undefined) return undefined;
  const props = (value as Partial<StandardSchemaV1> | null)?.['~standard'];
  if (typeof props?.validate !== 'function' || props.version !== 1)
    throw new CarrierError(
      'INVALID_ARGUMENT',
      'schema must be a Standard Schema validator (version 1: a zod, valibot or arktype schema, …)',
    );
  return value as StandardSchemaV1;
}

/**
 * The codec of a topic with a schema: validates, then encodes `value` as given with `codec`; decodes
 * with `codec`, then validates and puts back the keys the validator stripped.
 */
function validatingCodec(schema: StandardSchemaV1, codec: Codec): Codec {
  return {
    name: `${codec.name} validated by ${schema['~standard'].vendor}`,
    contentType: codec.contentType,
    encode(value: unknown, context: EncodeContext): Encoded | Promise<Encoded> {
      return andThen(validate(schema, value, context.topic), () => codec.encode(value, context));
    },
    decode(bytes: Uint8Array, context: DecodeContext): unknown {
      return andThen(codec.decode(bytes, context), (decoded) =>
        andThen(validate(schema, decoded, context.topic), (output) => withUnknownKeys(decoded, output)),
      );
    },
  };
}

/**
 * The handle of `carrier.topic(name, options)`.
 *
 * @throws CarrierError `INVALID_NAME` for a bad topic name; `INVALID_ARGUMENT` for a `schema` that
 *   is not a Standard Schema validator or a `codec` that is not a codec.
 */
export function createTopic<In, Out>(
  carrier: TopicCarrier,
  name: string,
  options: TopicOptions | undefined,
): Topic<In, Out> {
  validateName('topic', name);
  if (options !== undefined && (options === null || typeof options !== 'object'))
    throw new CarrierError('INVALID_ARGUMENT', 'options must be an object');
  const schema = checkSchema(options?.schema);
  const base = checkCodec(options?.codec);
  const codec = schema ? validatingCodec(schema, base ?? defaultCodec) : base;
  return {
    name,
    publish: (body, publishOptions) => carrier.publish(name, body, { ...publishOptions, codec }),
    publishBatch: (entries, batchOptions) => carrier.publishBatch(name, entries, { ...batchOptions, codec }),
    subscribe: (subscribeOptions, handler) =>
      carrier.subscribe<Out>(name, { ...subscribeOptions, codec }, handler),
    request: <Reply>(body: In, requestOptions?: TopicRequestOptions<Reply>) =>
      carrier.request<Reply>(name, body, { ...requestOptions, codec }),
    deadLetters(group) {
      const queue = carrier.deadLetters(name, group);
      return {
        subscribe: (handler, readOptions) =>
          queue.subscribe(handler, { ...readOptions, codec: readOptions?.codec ?? base }),
        redrive: (redriveOptions) => queue.redrive(redriveOptions),
      };
    },
  };
}
