import { describe, expect, it } from 'vitest';
import { OncePerKey } from './once-per-key.js';

/** A promise with its resolve and reject. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('OncePerKey', () => {
  it('shares one in-flight job per key and keeps its result', async () => {
    const once = new OncePerKey<number>();
    const job = deferred<number>();
    let calls = 0;
    const make = () => {
      calls++;
      return job.promise;
    };
    const a = once.run('q', make);
    const b = once.run('q', make);
    expect(a).toBe(b);
    job.resolve(7);
    await expect(a).resolves.toBe(7);
    await expect(once.run('q', make)).resolves.toBe(7);
    expect(calls).toBe(1);
    expect(once.has('q')).toBe(true);
  });

  it('runs different keys independently', async () => {
    const once = new OncePerKey<string>();
    await expect(once.run('a', async () => 'A')).resolves.toBe('A');
    await expect(once.run('b', async () => 'B')).resolves.toBe('B');
  });

  it('forgets a failure: every waiter gets the error, the next call runs again', async () => {
    const once = new OncePerKey<void>();
    const job = deferred<void>();
    const a = once.run('q', () => job.promise);
    const b = once.run('q', () => job.promise);
    job.reject(new Error('refused'));
    await expect(a).rejects.toThrow('refused');
    await expect(b).rejects.toThrow('refused');
    expect(once.has('q')).toBe(false);
    let ran = false;
    await once.run('q', async () => {
      ran = true;
    });
    expect(ran).toBe(true);
  });

  it('a synchronous throw of make rejects and is not kept', async () => {
    const once = new OncePerKey<void>();
    await expect(
      once.run('q', () => {
        throw new Error('bad');
      }),
    ).rejects.toThrow('bad');
    expect(once.has('q')).toBe(false);
  });

  it('forget(key) makes the next call run again; callers already waiting keep their promise', async () => {
    const once = new OncePerKey<number>();
    const first = deferred<number>();
    const a = once.run('q', () => first.promise);
    once.forget('q');
    const b = once.run('q', async () => 2);
    expect(b).not.toBe(a);
    first.resolve(1);
    await expect(a).resolves.toBe(1);
    await expect(b).resolves.toBe(2);
  });

  it('a failure of a forgotten job does not forget the job that replaced it', async () => {
    const once = new OncePerKey<number>();
    const old = deferred<number>();
    const a = once.run('q', () => old.promise);
    once.forget('q');
    const b = once.run('q', async () => 2);
    old.reject(new Error('late failure'));
    await expect(a).rejects.toThrow('late failure');
    expect(once.run('q', async () => 3)).toBe(b);
  });

  it('clear() forgets every key', async () => {
    const once = new OncePerKey<number>();
    await once.run('a', async () => 1);
    await once.run('b', async () => 1);
    once.clear();
    expect(once.has('a') || once.has('b')).toBe(false);
  });
});
