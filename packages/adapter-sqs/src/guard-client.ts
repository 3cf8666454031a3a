import { withDeadline } from '@carrier/core/kit';

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
 * Gives every `send` of an AWS SDK client a deadline (the kit's `withDeadline`: a `DeadlineError`
 * named after the command; the SDK destroys the request's socket on abort) and reports it to
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
    const call = withDeadline({ what, ms, signal: callOptions?.abortSignal }, (abortSignal) =>
      send(command, { ...callOptions, abortSignal }),
    );
    options.track(call);
    return call;
  };
  return client;
}
