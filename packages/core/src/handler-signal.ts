/**
 * A handler's cancellation: `message.signal` and the codec's `context.signal`. The
 * `AbortController` behind it is made only when someone reads `signal`: one per delivery costs a
 * garbage-collected `EventTarget` and, in the core bench, about an eighth of the time per message,
 * while most handlers never look at it. Aborted before anyone looked, the signal is made already
 * aborted, with the same reason.
 */
export class HandlerSignal {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  /** True once {@link abort} was called. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** The first {@link abort} call's reason (undefined before). */
  get reason(): unknown {
    return this.#reason;
  }

  /** The signal (made on first read). */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Abort with `reason`; a later call changes nothing (as `AbortController.abort`). */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/** A signal source that never aborts (replies: nothing cancels their handling). */
export const NEVER_ABORTED: Pick<HandlerSignal, 'signal' | 'aborted' | 'reason'> = {
  signal: new AbortController().signal,
  aborted: false,
  reason: undefined,
};
