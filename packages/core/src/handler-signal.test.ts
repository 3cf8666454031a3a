import { describe, expect, it } from 'vitest';
import { HandlerSignal } from './handler-signal.js';

describe('HandlerSignal', () => {
  it('aborted before anyone read the signal, the signal is made already aborted with that reason', () => {
    const cancel = new HandlerSignal();
    const reason = new Error('closing');
    cancel.abort(reason);
    expect(cancel.aborted).toBe(true);
    expect(cancel.signal.aborted).toBe(true);
    expect(cancel.signal.reason).toBe(reason);
  });

  it('a signal read before the abort fires once, with the first reason only', () => {
    const cancel = new HandlerSignal();
    const signal = cancel.signal;
    let fired = 0;
    signal.addEventListener('abort', () => fired++);
    const first = new Error('lease lost');
    cancel.abort(first);
    cancel.abort(new Error('closing'));
    expect(fired).toBe(1);
    expect(signal.reason).toBe(first);
    expect(cancel.reason).toBe(first);
    expect(cancel.signal).toBe(signal);
  });
});
