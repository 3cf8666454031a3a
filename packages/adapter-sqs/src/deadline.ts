/** A call that did not answer within its deadline (a silent endpoint or connection). */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineExceeded';
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`${what}: no answer within ${ms} ms (endpoint or connection silent)`);
  }
}

/**
 * Runs `run` with an AbortSignal that aborts after `ms` or when `signal` aborts, whichever comes
 * first. The AWS SDK destroys the request's socket on abort, so no socket outlives the deadline.
 *
 * @throws DeadlineError when the deadline passed first; otherwise what `run` throws (an aborted
 *   `signal` shows as the SDK's `AbortError`).
 */
export async function withDeadline<T>(
  what: string,
  ms: number,
  signal: AbortSignal | undefined,
  run: (abortSignal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    controller.abort(new DeadlineError(what, ms));
  }, ms);
  const onAbort = () => controller.abort(signal?.reason);
  if (signal?.aborted) controller.abort(signal.reason);
  else signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await run(controller.signal);
  } catch (error) {
    if (expired) throw new DeadlineError(what, ms);
    throw error;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** What {@link guardClient} needs to know. */
export interface GuardOptions {
  /** Deadline of one call in ms, SDK retries included; a ReceiveMessage gets its `WaitTimeSeconds` on top. */
  readonly requestTimeoutMs: number;
  /** Called with each call's promise when it starts (the transport waits for them on close). */
  readonly track: (call: Promise<unknown>) => void;
}

interface Sendable {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

/**
 * Gives every `send` of an AWS SDK client a deadline ({@link withDeadline}) and reports it to
 * `track`, so that no call of the transport (topology, publish, receive, settlement, heartbeat) can
 * hang on a silent endpoint. A caller's own `abortSignal` still works.
 */
export function guardClient<C extends object>(client: C, options: GuardOptions): C {
  const target = client as unknown as Sendable;
  const send = target.send.bind(target);
  target.send = (command: unknown, callOptions?: { abortSignal?: AbortSignal }) => {
    const input = (command as { input?: { WaitTimeSeconds?: number } }).input;
    const what = `SQS/SNS ${(command as object).constructor.name.replace(/Command$/, '')}`;
    const ms = (input?.WaitTimeSeconds ?? 0) * 1_000 + options.requestTimeoutMs;
    const call = withDeadline(what, ms, callOptions?.abortSignal, (abortSignal) =>
      send(command, { ...callOptions, abortSignal }),
    );
    options.track(call);
    return call;
  };
  return client;
}
