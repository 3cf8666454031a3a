import { CarrierError } from './errors.js';

/** What a native token reaches: the connection, one subscription, or one received message. */
export type NativeScope = 'connection' | 'subscription' | 'message';

/**
 * A transport's answer to a {@link NativeToken}: an opaque box made by the token's `wrap` and
 * opened only by the same token's `unwrap`, so that the value's type is checked where the adapter
 * makes it and where the application receives it, with no cast in between.
 */
export interface NativeAnswer {
  /** The token's description, for debugging. */
  readonly token: string;
}

/**
 * A typed key to a transport's native client objects, as Go CDK's `As`
 * (https://gocloud.dev/concepts/as/): each adapter exports one per scope (e.g. `native.connection`
 * of `@carrier/adapter-kafka`), and `carrier.as(token)`, `subscription.as(token)` and
 * `message.as(token)` return the objects it names, typed `T`, or throw `UNSUPPORTED` when the
 * transport in use is another one (or does not offer them).
 *
 * Using what a token returns ties the code to that broker: it voids Carrier's portability, and
 * whatever it does to the native objects (closing them, acknowledging a message yourself) is not
 * seen by Carrier. Read the adapter's README for what each token gives.
 *
 * Adapters create tokens (`new NativeToken<T, 'connection'>('kafka', 'connection', '…')`) and
 * answer them in the SPI's `native` members with `token.wrap(value)`.
 */
export class NativeToken<T, S extends NativeScope = NativeScope> {
  readonly #answers = new WeakMap<NativeAnswer, T>();

  /**
   * @param transport - the `Transport.name` of the transport that answers it (`kafka`, …).
   * @param scope - what it reaches.
   * @param description - what it gives, for error messages (e.g. `kafkajs Kafka, producer and admin`).
   */
  constructor(
    readonly transport: string,
    readonly scope: S,
    readonly description: string,
  ) {}

  /** Adapter side: the answer that gives `value` to this token's holder. */
  wrap(value: T): NativeAnswer {
    const answer: NativeAnswer = Object.freeze({ token: this.toString() });
    this.#answers.set(answer, value);
    return answer;
  }

  /** Core side: the value of an answer made by this token's `wrap`, else `undefined`. */
  unwrap(answer: NativeAnswer | undefined): T | undefined {
    return answer === undefined ? undefined : this.#answers.get(answer);
  }

  toString(): string {
    return `${this.transport} ${this.scope} (${this.description})`;
  }
}

/**
 * The value `token` names, asked of `answer` (the transport's `native` member, absent when the
 * transport offers none); `UNSUPPORTED` when the token is another transport's or unanswered.
 */
export function resolveNative<T, S extends NativeScope>(
  token: NativeToken<T, S>,
  scope: S,
  transport: string,
  answer: ((token: NativeToken<unknown>) => NativeAnswer | undefined) | undefined,
): T {
  if (!(token instanceof NativeToken) || token.scope !== scope) {
    throw new CarrierError('INVALID_ARGUMENT', `as() needs a native token of a ${scope}`, { transport });
  }
  const unsupported = (why: string) =>
    new CarrierError('UNSUPPORTED', `native access to ${token}: ${why}`, { transport });
  if (token.transport !== transport) throw unsupported(`the transport in use is ${transport}`);
  if (!answer) throw unsupported(`the ${transport} transport offers no native access here`);
  const value = token.unwrap(answer(token));
  if (value === undefined) throw unsupported(`the ${transport} transport does not answer this token`);
  return value;
}
